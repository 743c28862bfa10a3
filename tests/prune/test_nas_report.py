"""The NAS front reaches report.html: a step's report_section.json, logged under an MLflow parent run,
is picked up by the benchmark's report (slimnlp.benchmark.sections) with its table and plot."""

from __future__ import annotations

import mlflow

from slimnlp.benchmark import html_page
from slimnlp.benchmark.sections import upstream_sections
from slimnlp.prune.nas.front import write_front

POINTS = [
    {
        "arch": "-|2x128",
        "dev_accuracy": 0.71,
        "search_accuracy": 0.71,
        "encoder_params": 1000,
        "size_bytes": 2_000_000,
        "predicted_ms_b32": 3.0,
        "measured_ms_b32": 3.2,
        "speedup_b32": 3.1,
        "latency_error_b32": -0.06,
    },
    {
        "arch": "4x1024|4x1024",
        "dev_accuracy": 0.74,
        "search_accuracy": 0.74,
        "encoder_params": 9000,
        "size_bytes": 8_000_000,
        "predicted_ms_b32": 10.0,
        "measured_ms_b32": 9.9,
        "speedup_b32": 1.0,
        "latency_error_b32": 0.01,
    },
]
TEACHER = {"arch": "4x1024|4x1024", "size_bytes": 8_000_000, "measured_ms_b32": 9.9, "dev_accuracy": 0.74}


def test_the_front_section_reaches_the_report(tmp_path):
    folder = tmp_path / "prune_artifacts"
    write_front(folder, POINTS, TEACHER, batch_sizes=(32,), batch_size=32, selected="-|2x128")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("nas", artifact_location=(tmp_path / "artifacts").as_uri())
    parent = client.create_run(experiment).info.run_id
    tags = {"mlflow.parentRunId": parent}
    prune = client.create_run(experiment, tags=tags | {"slimnlp.step": "prune"}).info.run_id
    client.log_artifacts(prune, str(folder), "prune_artifacts")
    client.set_terminated(prune, "FINISHED")
    failed = client.create_run(experiment, tags=tags | {"slimnlp.step": "distill"}).info.run_id
    client.log_artifacts(failed, str(folder), "prune_artifacts")
    client.set_terminated(failed, "FAILED")  # an unfinished step's files are not reported

    sections = upstream_sections(client, parent, tmp_path / "bench" / "sections")
    assert len(sections) == 1
    (section,) = sections
    assert section["title"] == "NAS Pareto front (prune step)" and "Selected: -|2x128" in section["text"]
    assert section["header"][:2] == ["sub-network", "dev acc"]
    assert section["rows"][0][0] == "-|2x128 (selected)" and section["rows"][0][-1] == "3.10x"
    png = section["images"]["front.png"]
    assert png.startswith(str(tmp_path / "bench" / "sections" / "prune"))

    page = html_page._section(section)  # the part of report.html a section adds
    assert "<h2>NAS Pareto front (prune step)</h2>" in page and "<td>-|2x128 (selected)</td>" in page
    assert "data:image/png;base64," in page
