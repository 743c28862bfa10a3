"""Choose after recovery, as the pipeline runs it: recover-candidate on each candidate a prune step
wrote (distill then finetune-amp, the better stage on the selection rows kept), then select-student;
and the compiled pipeline's ParallelFor over the candidates (non-NAS configs unchanged)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from slimnlp import models, steps
from slimnlp.benchmark.paired import unpack_correct
from slimnlp.data import read_split
from slimnlp.mlops import tracking
from slimnlp.prune.nas.choose import CANDIDATES_DIR, CANDIDATES_FILE
from slimnlp.prune.nas.rows import split_dev
from tests.helpers_models import tiny_step_config


def _fake_prune_output(pruned, teacher_dir, budget: float) -> None:
    """What a nas prune step with recover_top_k=3 leaves when two points could meet the budget:
    two model directories (here copies of the teacher, one with a layer dropped) and candidates.json."""
    folder = pruned / CANDIDATES_DIR
    shutil.copytree(teacher_dir, folder / "0")
    model, tokenizer = models.load_model_dir(teacher_dir)
    models.keep_layers(model, 1)
    models.save_model_dir(model, tokenizer, folder / "1")
    points = [
        {"index": 0, "dir": "0", "arch": "4x64|4x64", "measured_ms_b32": 2.0},
        {"index": 1, "dir": "1", "arch": "-|4x64", "measured_ms_b32": 1.0},
    ]
    listing = {
        "batch_size": 32,
        "budget": budget,
        "confidence": 0.9,
        "selection_fraction": 0.5,
        "seed": 13,
        "teacher_selection_accuracy": 0.5,
        "selected": "4x64|4x64",
        "candidates": points,
    }
    (folder / CANDIDATES_FILE).write_text(json.dumps(listing))


@pytest.mark.slow  # ~1-2 min on 2 busy cores: a teacher, two recoveries (distill + finetune-amp)
def test_each_candidate_is_recovered_and_the_student_is_chosen_on_the_selection_rows(tmp_path):
    cfg = tiny_step_config(
        tmp_path,
        "distill.epochs=1",
        "distill.batch_size=16",
        "finetune_amp.epochs=1",
        "finetune_amp.batch_size=16",
    )
    d = {name: tmp_path / name for name in ("data", "teacher", "pruned", "student")}
    with tracking.parent_run(cfg) as parent:
        steps.prepare_data(cfg, d["data"], parent_run_id=parent)
        steps.train_teacher(cfg, d["data"], d["teacher"], parent_run_id=parent)
        _fake_prune_output(d["pruned"], d["teacher"], budget=1.0)  # every candidate holds a 100-point budget
        recovered = []
        for i in range(3):  # recover_top_k=3, the prune step wrote 2: the third slot has nothing to do
            out = tmp_path / f"recovered-{i}"
            metrics = steps.recover_candidate(
                cfg, d["data"], d["teacher"], d["pruned"], out, candidate=i, parent_run_id=parent
            )
            recovered.append(str(out))
            if i == 2:
                assert metrics["skipped"] == 1
                continue
            record = json.loads((out / "recovery.json").read_text())
            accuracies = record["stage_accuracies"]
            assert set(accuracies) == {"distill", "finetune-amp"}
            # finetune-amp is kept only when it gains on the selection rows
            assert record["stage"] == (
                "finetune-amp" if accuracies["finetune-amp"] > accuracies["distill"] else "distill"
            )
            dev_rows = len(read_split(d["data"], "dev")[0])
            assert len(unpack_correct(record["selection_correct"])) == len(split_dev(dev_rows, 0.5, 13)[1])
        chosen = steps.select_student(
            cfg, d["data"], d["teacher"], d["pruned"], recovered, d["student"], parent_run_id=parent
        )
    # both hold a 100-point budget: the faster (candidate 1, one layer) is the student
    assert chosen["student_candidate"] == 1 and chosen["student_holds_budget"] is True
    student, _ = models.load_model_dir(d["student"])
    assert len(models.encoder_layers(student)) == 1
    table = (d["student"] / "candidates_artifacts" / "candidates.md").read_text()
    assert "| 1 (student) | `-|4x64` | 1.00 |" in table and "| 0 | `4x64|4x64` | 2.00 |" in table
    section = json.loads((d["student"] / "candidates_artifacts" / "report_section.json").read_text())
    assert len(section["rows"]) == 2


def _tasks(path):
    spec = yaml.safe_load(path.read_text().split("\n---\n")[0])
    root = spec["root"]["dag"]["tasks"]
    return spec, root


@pytest.mark.parametrize("k", [3, 1])
def test_the_compiled_pipeline_recovers_k_candidates_side_by_side(tmp_path, k):
    from slimnlp.config import load_config
    from slimnlp_pipelines.compress import compile_pipeline

    cfg = load_config("configs/nas-shc.yaml", overrides=[f"prune.nas.recover_top_k={k}"])
    spec, root = _tasks(compile_pipeline(cfg, tmp_path / "p.yaml"))
    if k == 1:  # one candidate: the step list's DAG, exactly
        assert {"distill", "finetune-amp"} <= set(root) and "nas-candidate" not in root
        return
    assert "distill" not in root and "finetune-amp" not in root
    # the nas-candidates sub-pipeline takes its config slices, the fingerprint and the artifacts as inputs
    outer = root["nas-candidates"]
    assert set(outer["dependentTasks"]) == {"prepare-data", "train-teacher", "prune", "resolve-config"}
    given = outer["inputs"]["parameters"]
    assert given["recover_config"]["taskOutputParameter"]["outputParameterKey"] == "recover_candidate"
    assert given["select_config"]["taskOutputParameter"]["outputParameterKey"] == "select_student"
    assert given["data_fingerprint"]["taskOutputParameter"]["producerTask"] == "resolve-config"
    assert outer["inputs"]["artifacts"]["pruned"]["taskOutputArtifact"]["producerTask"] == "prune"
    sub = spec["components"][outer["componentRef"]["name"]]["dag"]
    (name,) = [name for name, task in sub["tasks"].items() if task["taskInfo"]["name"] == "nas-candidate"]
    loop = sub["tasks"][name]
    assert loop["parameterIterator"]["items"]["raw"] == "[0, 1, 2]"
    # inside, the loop reads only the sub-pipeline's inputs: no task-output parameter (kfp.local would
    # hand it the loop item instead)
    assert all("componentInputParameter" in value for value in loop["inputs"]["parameters"].values())
    inner = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert set(inner) == {"recover-candidate"}
    candidate = inner["recover-candidate"]["inputs"]["parameters"]["candidate"]["componentInputParameter"]
    assert candidate == loop["parameterIterator"]["itemInput"]
    select = sub["tasks"]["select-student"]["inputs"]["artifacts"]
    assert select["recovered"]["taskOutputArtifact"]["producerTask"] == name  # dsl.Collected over the loop
    assert select["pruned"]["componentInputArtifact"] == "pruned"
    assert (
        sub["outputs"]["artifacts"]["Output"]["artifactSelectors"][0]["producerSubtask"] == "select-student"
    )
    # export-onnx and benchmark read the student select-student chose
    for step, artifact in (("export-onnx", "model"), ("benchmark", "student")):
        assert (
            root[step]["inputs"]["artifacts"][artifact]["taskOutputArtifact"]["producerTask"]
            == "nas-candidates"
        )


def test_a_config_without_nas_compiles_the_step_list_unchanged(tmp_path):
    from slimnlp.config import load_config
    from slimnlp_pipelines.compress import compile_pipeline

    _, root = _tasks(compile_pipeline(load_config(overrides=[]), tmp_path / "p.yaml"))
    assert "select-student" not in root and {"distill", "finetune-amp"} <= set(root)


def test_the_candidate_components_take_what_the_step_list_says():
    import inspect

    from slimnlp.steps.spec import CANDIDATE_STEPS, GPU_STEPS
    from slimnlp_components import candidate_steps

    for spec in CANDIDATE_STEPS:
        params = set(inspect.signature(getattr(candidate_steps, spec.name.replace("-", "_"))).parameters)
        assert {i.name for i in spec.inputs} | set(spec.values) | {spec.output} <= params, spec.name
        assert steps.step_spec(spec.name) is spec and (spec.name in GPU_STEPS) is spec.gpu
