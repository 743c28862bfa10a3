"""The self-contained HTML report: it renders in headless Chromium with its table and every plot,
and `slimnlp report` rebuilds it from a run directory or an MLflow run id."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from slimnlp.benchmark.baselines import train_tfidf_baseline
from slimnlp.benchmark.harness import Variant, benchmark_models
from slimnlp.config import BenchmarkConfig
from slimnlp_pipelines.cli import main
from tests.benchmark.test_benchmark import tiny_variants
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Appended to a copy of the page (the report itself has no script): after `load`, each <img>
# reports whether it decoded, so --dump-dom shows broken images as well as missing ones.
IMAGE_PROBE = (
    '<script>window.addEventListener("load", () => document.body.setAttribute("data-images", '
    '[...document.images].map(i => i.complete && i.naturalWidth > 0 ? "ok" : "broken").join(",")))</script>'
)


def chromium() -> str:
    """The Chromium binary; skips (says why) when absent, fails instead under CI=1."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        message = "chromium is not installed (Debian: apt-get install -y chromium); .ci/run installs it"
        if os.environ.get("CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("report")
    tfidf = train_tfidf_baseline(TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, out / "tfidf")
    variants = [
        tiny_variants("teacher")[1],
        tiny_variants("student")[1],
        Variant("tfidf", "sklearn", str(tfidf), str(tfidf), "baseline", str(tfidf)),
    ]
    cfg = BenchmarkConfig(
        batch_sizes=[1, 4], sequence_length=16, rounds=2, iterations=2, warmup=1, threads=1,
        peak_memory="off", energy=False,
    )  # fmt: skip
    steps = {
        "distill": {"energy_kwh": 3e-5, "emissions_kg_co2": 2e-5, "duration_s": 4.0, "energy_method": "x"}
    }
    return benchmark_models(
        variants,
        TINY_TEXTS,
        TINY_LABELS,
        TINY_ID2LABEL,
        cfg,
        out / "bench",
        progress=False,
        step_energy=steps,
    )


def test_html_renders_in_headless_chromium(results: dict, tmp_path: Path) -> None:
    binary = chromium()
    page = Path(results["files"]["html"]).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # self-contained: nothing to fetch
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", IMAGE_PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    table = re.search(r'<table id="variants">(.*?)</table>', dom, re.S)
    assert table is not None, dom[:2000]
    cells = re.findall(r"<tr><td>([^<]+)</td>", table.group(1))
    assert cells == [row["name"] for row in results["rows"]]
    pngs = [kind for kind, path in results["files"].items() if path.endswith(".png")]
    assert {"plot", "size_plot", "energy_plot"} <= set(pngs)
    loaded = re.search(r'data-images="([^"]*)"', dom)
    assert loaded is not None and loaded.group(1).split(",") == ["ok"] * len(pngs)
    assert "The cheap baseline wins: tfidf" in dom


def test_report_verb_rebuilds_from_a_run_directory(results: dict, tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "report").mkdir(parents=True)
    shutil.copy(results["files"]["json"], run_dir / "report" / "results.json")
    assert main(["report", str(run_dir)]) == 0
    assert f"wrote {run_dir / 'report' / 'report.html'}" in capsys.readouterr().out
    original = Path(results["files"]["markdown"]).read_text(encoding="utf-8")
    rebuilt = (run_dir / "report" / "results.md").read_text(encoding="utf-8")
    assert rebuilt == original  # the same results give the same report
    assert (run_dir / "report" / "accuracy_vs_latency.png").read_bytes().startswith(b"\x89PNG")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    assert f"{empty} holds no results.json" in capsys.readouterr().err


def test_report_verb_reads_an_mlflow_run_and_logs_to_the_parent(
    results: dict, mlflow_server, tmp_path, capsys
):
    import json

    import mlflow

    client = mlflow.MlflowClient(mlflow_server.url)
    experiment = client.create_experiment(f"report-{tmp_path.name}")
    parent = client.create_run(experiment, tags={"slimnlp.kind": "pipeline"}).info.run_id
    bench = client.create_run(experiment, tags={"mlflow.parentRunId": parent, "slimnlp.step": "benchmark"})
    saved = json.loads(Path(results["files"]["json"]).read_text(encoding="utf-8"))
    client.log_dict(bench.info.run_id, saved, "results.json")
    tracking = ["--set", f"tracking.tracking_uri={mlflow_server.url}", "--set", f"output_dir={tmp_path}"]
    tracking += ["--set", "name=rep"]
    assert main(["report", parent, *tracking]) == 0
    out = tmp_path / "rep" / f"report-{parent[:8]}"  # <run dir>/report-<id>
    assert (out / "report.html").is_file() and (out / "results.md").is_file()
    logged = {a.path for a in client.list_artifacts(parent, "report")}
    assert logged == {"report/report.html", "report/results.md"}
    assert main(["report", "0" * 32, *tracking]) == 2
    assert (
        f"{'0' * 32} is neither a directory nor an MLflow run at {mlflow_server.url}"
        in capsys.readouterr().err
    )
