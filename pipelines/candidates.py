"""NAS choose-after-recovery in the compress DAG (prune.method nas, prune.nas.recover_top_k > 1).

    prune -> ParallelFor(candidate in 0..k-1): recover-candidate -> select-student -> export-onnx ...

The prune step writes up to k candidates (candidates/<i>/ and candidates.json); each is recovered
(distill then finetune-amp, the better stage kept) by its own task, side by side on a cluster (one
GPU each: recover-candidate is a GPU step) and one after another under kfp.local; select-student
then keeps the fastest that holds the budget on the selection rows and stands in for finetune-amp,
so export-onnx, benchmark and promote read its output unchanged. Other configs get None from
`candidate_recovery` and the DAG is exactly the step list's. No `from __future__ import
annotations`: KFP reads annotations as objects.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from kfp import dsl
from kfp.dsl import Dataset, Input, Model

from slimnlp_pipelines.tasks import configure_task

if TYPE_CHECKING:
    from slimnlp.config import RunConfig

# The steps recover-candidate + select-student replace, and the one whose output select-student stands in for.
REPLACED = ("distill", "finetune-amp")
STANDS_IN_FOR = "finetune-amp"


def recover_top_k(cfg: "RunConfig") -> int:
    """How many candidates are recovered: prune.nas.recover_top_k for nas, else 1 (no extra steps)."""
    return cfg.prune.nas.recover_top_k if cfg.prune.method == "nas" else 1


def candidate_components(kubernetes) -> dict[str, dsl.base_component.BaseComponent]:
    """recover-candidate (GPU image) and select-student (CPU image) as components."""
    from slimnlp_components import candidate_steps

    gpu_image = kubernetes.gpu_image or kubernetes.image
    return {
        "recover-candidate": dsl.component(
            candidate_steps.recover_candidate, base_image=gpu_image, install_kfp_package=False
        ),
        "select-student": dsl.component(
            candidate_steps.select_student, base_image=kubernetes.image, install_kfp_package=False
        ),
    }


def candidate_pipeline(cfg: "RunConfig", components: dict) -> Callable[..., dsl.PipelineTask]:
    """The `nas-candidates` sub-pipeline: one recover-candidate per candidate (ParallelFor), then
    select-student; its output is the student. Built before the compress pipeline (KFP allows no
    pipeline definition inside another's body) and called in it by `add_candidate_recovery`.

    The loop sits in a sub-pipeline so that everything it reads from other tasks (the config slices,
    the data fingerprint, the artifacts) enters as the sub-pipeline's inputs: kfp.local (2.17) gives
    a ParallelFor the loop item in place of every task-output parameter it reads directly, which
    handed recover-candidate the candidate index as its config."""
    k, k8s = recover_top_k(cfg), cfg.kubernetes

    @dsl.pipeline(name="nas-candidates", description="Recover the fastest NAS candidates, keep the best.")
    def nas_candidates(
        recover_config: str,
        select_config: str,
        parent_run_id: str,
        tracking_uri: str,
        data_fingerprint: str,
        data: Input[Dataset],
        teacher: Input[Model],
        pruned: Input[Model],
    ) -> Model:
        shared = {
            "parent_run_id": parent_run_id,
            "tracking_uri": tracking_uri,
            "data_fingerprint": data_fingerprint,
            "data": data,
            "teacher": teacher,
            "pruned": pruned,
        }
        with dsl.ParallelFor(items=list(range(k)), name="nas-candidate") as candidate:
            recovered = components["recover-candidate"](
                config_json=recover_config, candidate=candidate, **shared
            )
            configure_task(recovered, "recover-candidate", k8s)
        chosen = components["select-student"](
            config_json=select_config, recovered=dsl.Collected(recovered.outputs["model"]), **shared
        )
        return configure_task(chosen, "select-student", k8s).outputs["model"]

    return nas_candidates


def add_candidate_recovery(
    nas_candidates: Callable[..., dsl.PipelineTask], common: Callable[[str], dict], outputs: dict
) -> dsl.PipelineTask:
    """After prune, in the compress pipeline's body: the `nas-candidates` sub-pipeline, whose output
    becomes `outputs["finetune-amp"]` for the steps downstream."""
    recover, select = common("recover-candidate"), common("select-student")
    task = nas_candidates(
        recover_config=recover["config_json"],
        select_config=select["config_json"],
        parent_run_id=recover["parent_run_id"],
        tracking_uri=recover["tracking_uri"],
        data_fingerprint=recover["data_fingerprint"],
        data=outputs["prepare-data"],
        teacher=outputs["train-teacher"],
        pruned=outputs["prune"],
    )
    task.set_display_name("nas-candidates")
    outputs[STANDS_IN_FOR] = task.output
    return task
