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


def add_candidate_recovery(cfg: "RunConfig", step: Callable[..., dsl.PipelineTask], outputs: dict) -> None:
    """After prune: one recover-candidate per candidate (ParallelFor) and select-student, whose
    output becomes `outputs["finetune-amp"]` for the steps downstream."""
    k = recover_top_k(cfg)
    common = {
        "data": outputs["prepare-data"],
        "teacher": outputs["train-teacher"],
        "pruned": outputs["prune"],
    }
    with dsl.ParallelFor(items=list(range(k)), name="nas-candidate") as candidate:
        recovered = step("recover-candidate", candidate=candidate, **common)
    chosen = step("select-student", recovered=dsl.Collected(recovered.outputs["model"]), **common)
    outputs[STANDS_IN_FOR] = chosen.outputs["model"]
