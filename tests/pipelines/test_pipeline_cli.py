"""The `slimnlp` command line: help, error messages and exit codes, the local-run report helpers."""

import json
import subprocess
import sys

import pytest

from slimnlp_pipelines.cli import main
from slimnlp_pipelines.run_report import LocalRun, results_table, step_times, steps_table, write_report
from tests.expected_steps import STEPS

VERBS = [
    "run",
    "compile",
    "mlflow-ui",
    *STEPS,
    "registry",
    "mlflow-server",
    "submit",
    "schedule",
    "schedules",
    "report",
    "pretrain-mlm",
    "vocab-transfer",
]


def test_help_lists_every_verb(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert verb in out


def test_console_script_help():
    result = subprocess.run(
        [sys.executable, "-m", "slimnlp_pipelines.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "finetune-amp" in result.stdout


@pytest.mark.parametrize("verb", ["compile", "run", "prepare-data", "benchmark"])
def test_unknown_config_key_exits_2_with_key_path(verb, capsys):
    assert main([verb, "--set", "prune.no_such_key=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "prune.no_such_key" in err
    assert "Traceback" not in err


def test_bad_sparsity_names_the_key(capsys):
    assert main(["compile", "--set", "prune.target_sparsity=1.5"]) == 2
    err = capsys.readouterr().err
    assert "prune.target_sparsity" in err and "1.5" in err


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["compile", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_step_with_missing_input_dir_exits_2(tmp_path, capsys):
    code = main(
        [
            "prune",
            "--data",
            str(tmp_path / "no-data"),
            "--teacher",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--data" in err and "no-data" in err


def test_verbose_shows_traceback(capsys):
    assert main(["compile", "--verbose", "--set", "prune.target_sparsity=1.5"]) == 2
    assert "Traceback" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Local-run report helpers (no pipeline run: a fabricated kfp.local output folder)


def fake_pipeline_dir(root):
    pipeline_dir = root / "kfp" / "slimnlp-compress-2026-01-01"
    for step, seconds in [("prepare-data", 1.5), ("benchmark", 9.5)]:
        output = "data" if step == "prepare-data" else "results"
        (pipeline_dir / step / output).mkdir(parents=True)
        (pipeline_dir / step / "executor_output.json").write_text(
            json.dumps(
                {
                    "artifacts": {
                        "metrics": {
                            "artifacts": [
                                {"name": "metrics", "uri": "x", "metadata": {"wall_time_s": seconds}}
                            ]
                        },
                        output: {"artifacts": [{"name": output, "uri": str(pipeline_dir / step / output)}]},
                    }
                }
            )
        )
    results = {
        "rows": [
            {
                "name": "teacher",
                "runtime": "pytorch",
                "accuracy": 0.91,
                "macro_f1": 0.9,
                "params_total": 1000,
                "size_bytes": 4000,
                "latency_b1_p50_ms": 2.5,
                "latency_b32_p50_ms": 20.0,
            }
        ]
    }
    (pipeline_dir / "benchmark" / "results" / "results.json").write_text(json.dumps(results))
    return pipeline_dir


def test_step_times_and_report(tmp_path):
    pipeline_dir = fake_pipeline_dir(tmp_path)
    steps = step_times(pipeline_dir)
    assert list(steps) == ["prepare-data", "benchmark"]
    assert steps["benchmark"]["wall_time_s"] == 9.5
    assert steps["prepare-data"]["outputs"]["data"].endswith("prepare-data/data")

    run = LocalRun(
        run_dir=tmp_path,
        parent_run_id="abc",
        tracking_uri="sqlite:///x.db",
        pipeline_dir=pipeline_dir,
        results_dir=pipeline_dir / "benchmark" / "results",
        wall_s=11.0,
        steps=steps,
    )
    report = write_report(run)
    assert json.loads((report / "results.json").read_text())["rows"][0]["name"] == "teacher"
    assert json.loads((report / "run.json").read_text())["parent_run_id"] == "abc"
    table = steps_table(run)
    assert "benchmark" in table and "9.5" in table and "total" in table


def test_results_table_has_every_row(tmp_path):
    results = json.loads((fake_pipeline_dir(tmp_path) / "benchmark" / "results" / "results.json").read_text())
    table = results_table(results)
    assert "teacher" in table
