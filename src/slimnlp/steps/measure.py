"""The benchmark step: teacher and student through one harness, with baselines and energy."""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from pathlib import Path
from typing import Any

from slimnlp import models
from slimnlp.config import RunConfig
from slimnlp.data import load_splits
from slimnlp.mlops import tracking
from slimnlp.mlops.lineage import lineage_tags
from slimnlp.steps.common import finish_step, step_body


def benchmark(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student_dir: str | Path,
    student_onnx_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Teacher vs. student on the same test set with the same harness, in PyTorch and ONNX Runtime
    (fp32 and int8), with a TF-IDF + logistic regression baseline trained on the train split;
    inference energy and the compression steps' energy payback. out_dir holds results.json/.md/.csv,
    report.html and plots; results.md and report.html are also logged to the MLflow parent run."""
    from slimnlp.benchmark.energy import compression_energy
    from slimnlp.benchmark.harness import benchmark_models
    from slimnlp.export.onnx import export_onnx_model

    with step_body(cfg, "benchmark", out_dir, parent_run_id) as (run, out):
        train, _, test, id2label = load_splits(data_dir)
        if not test[0]:
            raise ValueError(
                f"the test split {Path(data_dir)} is empty: nothing to benchmark on; "
                "check data.test_file / data.test_fraction and re-run prepare-data"
            )
        started = time.perf_counter()
        # The teacher goes through the same export so that runtimes compare like with like.
        teacher_onnx = out / "teacher_onnx"
        export_onnx_model(
            teacher_dir,
            teacher_onnx,
            test[0],
            cfg.export,
            labels=test[1],
            max_length=models.model_max_length(teacher_dir),
        )
        step_energy = _step_energy(
            run,
            parent_run_id,
            {"train-teacher": teacher_dir, "finetune-amp": student_dir, "export-onnx": student_onnx_dir},
        )
        spent = compression_energy(step_energy)
        variants = _all_variants(
            cfg, out, train, id2label, spent, teacher_dir, teacher_onnx, student_dir, student_onnx_dir
        )
        results = benchmark_models(
            variants,
            test[0],
            test[1],
            id2label,
            dataclasses.replace(cfg.benchmark, energy=cfg.benchmark.energy and cfg.tracking.codecarbon),
            out,
            country_iso_code=cfg.tracking.country_iso_code,
            step_energy=step_energy,
        )
        results["compression_energy"] = spent
        parent = run.parent_id  # given, injected, or the one this KFP run opened (mlops.lineage)
        if parent:  # sections earlier steps left (the NAS front), and the run's ids
            from slimnlp.benchmark.report import write_reports
            from slimnlp.benchmark.sections import upstream_sections

            results["sections"] = upstream_sections(run.client, parent, out / "sections")
            results["sections"].append(_lineage_section(lineage_tags(run.client, parent)))
            results["files"] = write_reports(results, out)
        shutil.rmtree(teacher_onnx / ".cache", ignore_errors=True)
        metrics = {"benchmark_seconds": time.perf_counter() - started, **spent}
        for row in results["rows"]:
            metrics.update(
                {
                    f"{row['name']}.{k}": v
                    for k, v in row.items()
                    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                }
            )
        run.log_dict(results, "results.json")
        if parent:  # the report belongs on the pipeline's own run, where people look first
            for kind in ("html", "markdown"):
                run.client.log_artifact(parent, results["files"][kind], "report")
        metrics = finish_step(run, out, metrics, model_dir=False)
        return {**metrics, "rows": results["rows"], "summary": results["summary"]}


def _lineage_section(tags: dict[str, str]) -> dict[str, Any]:
    """A report section naming the MLflow parent run and the KFP run (with its UI address)."""
    names = {
        "slimnlp.parent_run_id": "MLflow parent run",
        "kfp.run_id": "KFP run",
        "kfp.run_name": "KFP run name",
    }
    lines = [f"{label}: `{tags[key]}`" for key, label in names.items() if tags.get(key)]
    if tags.get("kfp.ui_url"):
        lines.append(f"KFP UI: {tags['kfp.ui_url']}")
    return {"title": "Runs", "text": "  \n".join(lines)}


def _all_variants(
    cfg: RunConfig,
    out: Path,
    train,
    id2label,
    spent: dict[str, Any],
    teacher_dir,
    teacher_onnx: Path,
    student_dir,
    student_onnx_dir,
) -> list:
    """Teacher and student in every configured runtime (the student carries what compressing it
    cost), and the TF-IDF baseline trained on the train split when asked for."""
    from slimnlp.benchmark.baselines import train_tfidf_baseline
    from slimnlp.benchmark.harness import Variant

    variants = _variants(Variant, cfg.benchmark.runtimes, "teacher", teacher_dir, teacher_onnx)
    students = _variants(Variant, cfg.benchmark.runtimes, "student", student_dir, Path(student_onnx_dir))
    for student in students:
        student.compression_kwh = spent["compression_kwh"]
    variants += students
    if cfg.benchmark.tfidf_baseline:
        tfidf = train_tfidf_baseline(train[0], train[1], id2label, out / "tfidf", seed=cfg.seed)
        variants.append(Variant("tfidf-logreg", "sklearn", str(tfidf), str(tfidf), "baseline", str(tfidf)))
    return variants


def _step_energy(run: tracking.StepRun, parent_run_id: str | None, dirs: dict[str, Any]) -> dict[str, Any]:
    """The steps' own CodeCarbon figures: from the sibling step runs in MLflow, else from the
    metrics.json of the directories this step was given."""
    from slimnlp.benchmark.energy import step_energy_from_metrics, step_energy_from_mlflow

    found = step_energy_from_metrics(dirs)
    parent = run.parent_id
    if parent:
        found |= step_energy_from_mlflow(run.client, parent)
    return found


def _variants(variant_cls, runtimes: list[str], role: str, model_dir: str | Path, onnx_dir: Path) -> list:
    files = {"pytorch": None, "onnx": onnx_dir / "model.onnx", "onnx-int8": onnx_dir / "model.int8.onnx"}
    variants = []
    for runtime in runtimes:
        path = files[runtime]
        if path is not None and not path.is_file():
            continue  # e.g. int8 disabled in export
        variants.append(
            variant_cls(
                name=f"{role}-{runtime}",
                runtime=runtime,
                path=str(path or model_dir),
                tokenizer_dir=str(model_dir),
                role=role,
                model_dir=str(model_dir),
            )
        )
    return variants
