"""`slimnlp run --resume`: which steps are reused, by the hash of their inputs and config section.

The step bodies are the fakes of tests/pipelines/fake_steps, run in this process through the real
component entry (slimnlp.steps.entry.run_component), so each case takes milliseconds; one case runs
the whole pipeline through kfp.local twice.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from slimnlp.config import load_config
from slimnlp.mlops import resume
from slimnlp.steps.entry import run_component
from slimnlp.steps.spec import dag_steps
from tests.expected_steps import STEPS as STEP_NAMES

FAKE_STEPS = Path(__file__).parent / "fake_steps"


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """The step modules swapped for the fakes (as the sitecustomize does in kfp.local's subprocesses)."""
    monkeypatch.syspath_prepend(str(FAKE_STEPS))
    import fake_slimnlp_steps

    for module in ("data", "train", "pruning", "export", "measure", "release", "grid"):
        monkeypatch.setitem(sys.modules, f"slimnlp.steps.{module}", fake_slimnlp_steps)
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_CALLS_FILE", str(calls))
    for name in ("FAKE_FAIL_STEP", "FAKE_TRACKING", "FAKE_WAIT_STEP"):
        monkeypatch.delenv(name, raising=False)
    return calls


def run_all(cfg, root: Path, *, resume_on: bool, monkeypatch) -> dict[str, dict]:
    """Every step of the DAG in order, each into root/<step>, inputs wired as the pipeline does."""
    monkeypatch.setenv(resume.RESUME_ENV, "1" if resume_on else "0")
    outputs: dict[str, str] = {}
    results = {}
    for spec in dag_steps(cfg):
        inputs = {i.name: outputs[i.producer] for i in spec.inputs if i.producer in outputs}
        out = str(root / spec.name)
        results[spec.name] = run_component(spec.name, cfg.to_json(), "", "", out, **inputs)
        outputs[spec.name] = out
    return results


def calls(calls_file: Path) -> list[str]:
    lines = calls_file.read_text().split() if calls_file.exists() else []
    calls_file.unlink(missing_ok=True)
    return lines


def config(tmp_path: Path, *overrides: str):
    train = tmp_path / "train.csv"
    if not train.exists():
        train.write_text("text,label\nएक,a\nदोन,b\n", encoding="utf-8")
    return load_config(None, [f"output_dir={tmp_path}", "name=r", f"data.train_file={train}", *overrides])


def test_unchanged_steps_are_reused_and_a_changed_section_reruns_from_its_step(fakes, tmp_path, monkeypatch):
    cfg = config(tmp_path)
    first = run_all(cfg, tmp_path / "a", resume_on=False, monkeypatch=monkeypatch)
    assert calls(fakes) == list(STEP_NAMES)
    # Same config, --resume: nothing recomputed but promote (its side effect is the model registry:
    # never reused), every output in place, same headline figures.
    again = run_all(cfg, tmp_path / "b", resume_on=True, monkeypatch=monkeypatch)
    assert calls(fakes) == ["promote"]
    assert {k: {m: v for m, v in r.items() if m != "wall_time_s"} for k, r in again.items()} == {
        k: {m: v for m, v in r.items() if m != "wall_time_s"} for k, r in first.items()
    }
    assert not (tmp_path / "r" / "resume" / "promote").exists()
    for step in STEP_NAMES[:-1]:
        assert (tmp_path / "b" / step / "seen.json").read_bytes() == (
            tmp_path / "a" / step / "seen.json"
        ).read_bytes()
    # The export section changed: export-onnx and everything that reads its output rerun.
    changed = config(tmp_path, "export.atol=0.01")
    run_all(changed, tmp_path / "c", resume_on=True, monkeypatch=monkeypatch)
    assert calls(fakes) == ["export-onnx", "benchmark", "promote"]
    # Without --resume every step runs (and records itself again).
    run_all(cfg, tmp_path / "d", resume_on=False, monkeypatch=monkeypatch)
    assert calls(fakes) == list(STEP_NAMES)


def test_changed_data_file_reruns_prepare_data_and_only_what_its_output_changes(fakes, tmp_path, monkeypatch):
    cfg = config(tmp_path)
    run_all(cfg, tmp_path / "a", resume_on=False, monkeypatch=monkeypatch)
    calls(fakes)
    (tmp_path / "train.csv").write_text("text,label\nएक,a\nतीन,b\n", encoding="utf-8")
    run_all(cfg, tmp_path / "b", resume_on=True, monkeypatch=monkeypatch)
    # The fake prepare-data copies the file into its output, as a real one writes new splits: every
    # consumer's input changed, so everything reruns.
    assert calls(fakes) == list(STEP_NAMES)
    # The same bytes again (a new file, same content): prepare-data's key is its files' content.
    (tmp_path / "train.csv").write_text("text,label\nएक,a\nतीन,b\n", encoding="utf-8")
    run_all(cfg, tmp_path / "c", resume_on=True, monkeypatch=monkeypatch)
    assert calls(fakes) == ["promote"]  # a step with side effects is never reused


def test_failed_step_has_no_record_and_reruns_while_earlier_steps_are_reused(fakes, tmp_path, monkeypatch):
    cfg = config(tmp_path)
    monkeypatch.setenv("FAKE_FAIL_STEP", "distill")
    with pytest.raises(ValueError, match="fake failure in distill"):
        run_all(cfg, tmp_path / "a", resume_on=False, monkeypatch=monkeypatch)
    assert calls(fakes) == ["prepare-data", "train-teacher", "prune", "distill"]
    assert not (tmp_path / "r" / "resume" / "distill").exists()
    monkeypatch.delenv("FAKE_FAIL_STEP")
    run_all(cfg, tmp_path / "b", resume_on=True, monkeypatch=monkeypatch)
    assert calls(fakes) == ["distill", "finetune-amp", "export-onnx", "benchmark", "promote"]


def test_a_recorded_output_changed_or_deleted_since_is_recomputed(fakes, tmp_path, monkeypatch):
    cfg = config(tmp_path)
    run_all(cfg, tmp_path / "a", resume_on=False, monkeypatch=monkeypatch)
    calls(fakes)
    (tmp_path / "a" / "prune" / "seen.json").write_text("{}")  # edited by hand
    run_all(cfg, tmp_path / "b", resume_on=True, monkeypatch=monkeypatch)
    # prune reruns; the fake's output names its input folders, so the steps after it rerun too.
    assert calls(fakes) == ["prune", "distill", "finetune-amp", "export-onnx", "benchmark", "promote"]
    import shutil

    shutil.rmtree(tmp_path / "a" / "train-teacher")  # the recorded output deleted: recomputed
    run_all(cfg, tmp_path / "c", resume_on=True, monkeypatch=monkeypatch)
    assert calls(fakes)[:1] == ["train-teacher"]


def test_the_budget_nas_selects_by_reruns_prune_when_the_promotion_gate_changes(fakes, tmp_path, monkeypatch):
    """nas reads registry.max_drop_vs_teacher (its accuracy budget, when prune.nas.max_accuracy_drop
    is null): the prune step's key holds it for nas, and not for a method that does not read it."""
    # The fake prune's output names its input folders, so for nas the steps after it rerun too.
    after_prune = ["prune", "distill", "finetune-amp", "export-onnx", "benchmark", "promote"]
    for method, rerun in (("nas", after_prune), ("importance", ["promote"])):
        root = tmp_path / method
        root.mkdir()
        cfg = config(root, f"prune.method={method}")
        run_all(cfg, root / "a", resume_on=False, monkeypatch=monkeypatch)
        calls(fakes)
        changed = config(root, f"prune.method={method}", "registry.max_drop_vs_teacher=0.05")
        run_all(changed, root / "b", resume_on=True, monkeypatch=monkeypatch)
        assert calls(fakes) == rerun, method


def test_step_keys_hash_what_the_step_reads(tmp_path):
    inputs = {"data": str(tmp_path / "data"), "teacher": str(tmp_path / "teacher")}
    for folder in inputs.values():
        Path(folder).mkdir()
        (Path(folder) / "weights.bin").write_bytes(b"w")

    def key(step, *overrides):
        return resume.step_key(config(tmp_path, *overrides), step, inputs)

    nas = ("prune.method=nas",)
    for changed in ("registry.max_drop_vs_teacher=0.05", "benchmark.threads=3", "export.atol=0.01"):
        assert key("prune", *nas) != key("prune", *nas, changed), changed
        assert key("prune") == key("prune", changed), changed
    assert key("benchmark") != key("benchmark", "tracking.country_iso_code=FRA")
    # distill keeps the zeros of a method that zeroes weights: the method is part of its key.
    assert key("distill") != key("distill", "prune.method=wanda")
    assert key("distill") == key("distill", "registry.max_drop_vs_teacher=0.05")


def test_record_is_whole_and_names_output_and_metrics(fakes, tmp_path, monkeypatch):
    cfg = config(tmp_path)
    run_all(cfg, tmp_path / "a", resume_on=False, monkeypatch=monkeypatch)
    records = list((tmp_path / "r" / "resume" / "train-teacher").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["out_dir"] == str((tmp_path / "a" / "train-teacher").resolve())
    assert record["output_digest"] == resume.dir_digest(tmp_path / "a" / "train-teacher")
    assert record["metrics"]["test_macro_f1"] == 0.5
    assert not list((tmp_path / "r" / "resume").rglob("*.tmp"))


def test_digest_ignores_metrics_json_but_not_content(tmp_path):
    (tmp_path / "m.bin").write_bytes(b"weights")
    (tmp_path / "metrics.json").write_text('{"wall_time_s": 1}')
    before = resume.dir_digest(tmp_path)
    (tmp_path / "metrics.json").write_text('{"wall_time_s": 2}')
    assert resume.dir_digest(tmp_path) == before
    (tmp_path / "m.bin").write_bytes(b"weightz")
    assert resume.dir_digest(tmp_path) != before


def test_runs_left_running_by_a_dead_process_are_closed_and_live_ones_kept(tmp_path):
    import subprocess

    import mlflow

    from slimnlp.mlops import tracking

    cfg = load_config(None, [f"output_dir={tmp_path}", f"tracking.tracking_uri=sqlite:///{tmp_path}/m.db"])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    experiment = tracking._setup(cfg)
    client = mlflow.MlflowClient(tracking.tracking_uri(cfg))
    tags = tracking._process_tags()
    killed = client.create_run(
        experiment, run_name="killed", tags={**tags, "slimnlp.pid": dead.stdout.strip()}
    )
    alive = client.create_run(experiment, run_name="alive", tags=tags)  # this process: still running
    elsewhere = client.create_run(
        experiment, run_name="elsewhere", tags={**tags, "slimnlp.host": "other-host"}
    )
    assert tracking.close_orphaned_runs(cfg) == [killed.info.run_id]
    status = {r.info.run_name: r.info.status for r in client.search_runs([experiment])}
    assert status == {"killed": "FAILED", "alive": "RUNNING", "elsewhere": "RUNNING"}
    assert "ended without closing this run" in client.get_run(killed.info.run_id).data.tags["slimnlp.error"]
    for run in (alive, elsewhere):
        client.set_terminated(run.info.run_id, "FINISHED")
