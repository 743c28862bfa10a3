"""NAS with choose-after-recovery through kfp.local, end to end on the embedded sample (issue 29):
the prune step writes k candidates, the nas-candidates sub-pipeline recovers each (a ParallelFor)
and select-student keeps one, export-onnx, benchmark and promote read it, and the registered
version says why it was chosen. Slow (tiny models, a few minutes): `make test-slow`."""

import json
from pathlib import Path

import pytest

from slimnlp_pipelines.cli import main

pytestmark = pytest.mark.slow

TINY_NAS = [
    "teacher.epochs=4",
    "prune.method=nas",
    "prune.nas.space=large",
    "prune.nas.ffn_step=128",
    "prune.nas.steps=6",
    "prune.nas.batch_size=16",
    "prune.nas.eval_every=3",
    "prune.nas.importance_batches=1",
    "prune.nas.latency_runtime=pytorch",
    "prune.nas.latency_rounds=1",
    "prune.nas.latency_iterations=2",
    "prune.nas.candidates=8",
    "prune.nas.population=4",
    "prune.nas.front_checks=3",
    "prune.nas.recover_top_k=2",
    # On 356 sample rows and 6 super-network steps the zero-layer point (trained apart, 4 epochs)
    # outscores every sub-network and is the fastest: the front is that one point and one candidate.
    # This test is about the ParallelFor over two candidates; tests/prune/test_nas_select.py covers
    # the zero-layer point chosen by the pruner.
    "prune.nas.pooled_point=false",
    "prune.nas.max_accuracy_drop=1.0",  # any point holds: two candidates are always recovered
    "distill.student=pruned",
    "distill.epochs=1",
    "finetune_amp.epochs=1",
    "benchmark.rounds=1",
    "benchmark.iterations=2",
    "benchmark.peak_memory='off'",
    "benchmark.energy=false",
    "tracking.codecarbon=false",
]


def test_nas_candidates_are_recovered_and_one_is_chosen_under_kfp_local(tmp_path, monkeypatch):
    monkeypatch.delenv("SLIMNLP_DATA_DIR", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = ["run", "--config", "configs/default.yaml", "--set", f"output_dir={tmp_path}"]
    for item in TINY_NAS:
        args += ["--set", item]
    assert main(args) == 0
    run = json.loads((tmp_path / "marathi-sample" / "report" / "run.json").read_text())
    pipeline_dir = Path(run["pipeline_dir"])
    recovered = sorted(pipeline_dir.glob("**/recover-candidate/model/recovery.json"))
    assert len(recovered) == 2  # one task per candidate, each with its own config (not its index)
    assert sorted(json.loads(p.read_text())["index"] for p in recovered) == [0, 1]
    choice = json.loads(
        (pipeline_dir / "select-student" / "model" / "candidates_artifacts" / "candidates.json").read_text()
    )
    assert len(choice["candidates"]) == 2 and choice["student"] in {0, 1} and choice["reason"]
    # the benchmark timed the chosen student, and promote registered it with the reason
    decision = json.loads(next(pipeline_dir.glob("promote/*/decision.json")).read_text())
    assert decision["selection"]["choice_reason"] == choice["reason"]
    assert decision["selection"]["student_holds_budget"] == choice["holds"]
