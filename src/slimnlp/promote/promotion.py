"""The promote step: package the student as a pyfunc, score it, gate it, register it, move aliases.

    slimnlp promote --data runs/x/data --teacher runs/x/teacher --onnx runs/x/onnx --results runs/x/benchmark

The gate (`slimnlp.promote.gate.decide`) is a pure function of numbers, tested on its own:
accuracy within budget of the teacher and the champion, and faster (or smaller) than both by a
margin beyond the spread of the benchmark's own rounds (or `registry.min_ratio`, if larger).

Order matters for safety: the package is scored before anything is uploaded, the upload comes
before registration, and registration before any alias moves; a failure at any point raises and
leaves the registry and the champion as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig
from slimnlp.config.registry import SERVED_RUNTIMES
from slimnlp.promote.gate import Check, Decision, decide, spread_from_results  # noqa: F401 - re-exported
from slimnlp.promote.registry import (
    CHALLENGER,
    CHAMPION,
    MODEL_ARTIFACT,
    TAG,
    RegistryError,
    alias_version,
    make_champion,
    model_name,
    promotion_lock,
    register,
)

# --------------------------------------------------------------------------------------------------
# Packaging and scoring


def package_model(
    onnx_dir: str | Path, dest: str | Path, variant: str = "int8", example_texts: list[str] | None = None
) -> Path:
    """Save the `variant` ONNX model (int8 or fp32) + tokenizer as an MLflow pyfunc directory
    (slimnlp.promote.serving), with its input and output signature, an input example and metadata
    naming the served file and how ONNX Runtime's providers are chosen."""
    import shutil

    import mlflow

    from slimnlp.promote import serving

    onnx_dir, dest = Path(onnx_dir), Path(dest)
    onnx_file = SERVED_FILES[variant]
    if not (onnx_dir / onnx_file).is_file():
        hint = " (export.quantize_int8 is off? set registry.serve_variant=fp32)" if variant == "int8" else ""
        raise RegistryError(
            f"{onnx_dir} has no {onnx_file}, the {variant} model registry.serve_variant asks for{hint}; "
            "pass the export-onnx output directory"
        )
    # Only what serving needs: the served variant's file, not the other one or metrics.
    others = [f"{name}*" for name in SERVED_FILES.values() if name != onnx_file]
    staged = dest.parent / "onnx"
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(
        onnx_dir, staged, ignore=shutil.ignore_patterns(*others, "model.fused*", "*metrics.json", ".*")
    )
    served = {"variant": variant, "onnx_file": onnx_file}
    (staged / serving.SERVING_FILE).write_text(json.dumps(served), encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    mlflow.pyfunc.save_model(
        str(dest),
        python_model=serving.__file__,
        artifacts={"onnx_dir": str(staged)},
        signature=_signature(staged),
        input_example=_frame((example_texts or ["example text"])[:2]),
        metadata=_metadata(served),
        pip_requirements=_requirements(),
    )
    shutil.rmtree(staged, ignore_errors=True)
    return dest


SERVED_FILES = {"int8": "model.int8.onnx", "fp32": "model.onnx"}


def _signature(onnx_dir: Path) -> Any:
    """Input: a string `text` column; output: `label`, `score` and `prob_<label>` per label."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from slimnlp.promote import serving

    id2label = json.loads((onnx_dir / "config.json").read_text(encoding="utf-8"))["id2label"]
    labels = [id2label[str(i)] for i in range(len(id2label))]
    outputs = [ColSpec("string", "label"), ColSpec("float", "score")]
    outputs += [ColSpec("float", f"prob_{label}") for label in labels]
    return ModelSignature(inputs=Schema([ColSpec("string", serving.TEXT_COLUMN)]), outputs=Schema(outputs))


def _metadata(served: dict[str, str]) -> dict[str, Any]:
    import onnxruntime as ort

    from slimnlp.promote import serving

    return {
        "slimnlp_serve_variant": served["variant"],
        "slimnlp_onnx_file": served["onnx_file"],
        "onnxruntime_providers": "chosen where the model loads: CUDAExecutionProvider when onnxruntime "
        "offers it (onnxruntime-gpu and a GPU), else CPUExecutionProvider",
        "onnxruntime_providers_when_packaged": serving.choose_providers(ort.get_available_providers()),
    }


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "onnxruntime", "transformers", "numpy", "pandas")]


def score_pyfunc(model_uri: str, texts: list[str], labels: list[str]) -> dict[str, float]:
    """Accuracy and macro-F1 of a pyfunc (local path or models:/ URI) on labelled texts."""
    import mlflow

    from slimnlp.training.metrics import classification_metrics

    predicted = mlflow.pyfunc.load_model(model_uri).predict(_frame(texts))["label"].astype(str).tolist()
    # The classes are every label seen in the gold or the predicted column, as names: a champion
    # trained on another label map may predict a label this test set does not have.
    names = sorted(set(labels) | set(predicted))
    index = {name: i for i, name in enumerate(names)}
    scores = classification_metrics(
        [index[p] for p in predicted], [index[t] for t in labels], dict(enumerate(names))
    )
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}


def _frame(texts: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame({"text": texts})


def champion_numbers(client: Any, name: str, texts: list[str], labels: list[str]) -> dict[str, Any] | None:
    """The champion's accuracy on these texts (re-scored) and its registered latency and size."""
    version = _existing_alias(client, name, CHAMPION)
    if version is None:
        return None
    tags = client.get_model_version(name, version).tags or {}
    try:
        scores = score_pyfunc(f"models:/{name}@{CHAMPION}", texts, labels)
    except Exception as err:  # noqa: BLE001 - whatever stops it, the gate cannot compare
        raise RegistryError(
            f"the champion {name} version {version} could not be loaded and scored on this test set "
            f"({type(err).__name__}: {err}); nothing was registered. Fix its artifacts or make another "
            f"version champion (`slimnlp registry promote {name} VERSION`)"
        ) from err
    return {
        "version": version,
        **scores,
        "latency_ms": _float(tags.get(TAG + "latency_ms")),
        "size_bytes": _float(tags.get(TAG + "size_bytes")),
        "latency_spread": _float(tags.get(TAG + "latency_spread")),
    }


def _existing_alias(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return alias_version(client, name, alias)
    except RegistryError:
        return None  # the model is not registered yet: this is its first version
    except MlflowException as err:
        raise RegistryError(f"reading {name} from {client.tracking_uri} failed: {err.message}") from err


def _float(value: Any) -> float | None:
    return None if value in (None, "", "None") else float(value)


# --------------------------------------------------------------------------------------------------
# Deciding and recording


def apply_decision(client: Any, name: str, version: str, decision: Decision) -> dict[str, Any]:
    """`challenger` always; `champion` (and `previous`) only when the gate passed."""
    client.set_registered_model_alias(name, CHALLENGER, version)
    client.set_model_version_tag(
        name, version, TAG + "decision", "promoted" if decision.promote else "refused"
    )
    client.set_model_version_tag(name, version, TAG + "reasons", " | ".join(decision.reasons)[:5000])
    moved = make_champion(client, name, version) if decision.promote else {}
    return {"name": name, "version": version, "promoted": decision.promote, **moved}


def format_decision(result: dict[str, Any]) -> str:
    """The lines the promote step and the run summary print."""
    if not result.get("registered", True):
        return f"Promotion: skipped ({result.get('reason', 'registry.enabled is false')})"
    verdict = "PROMOTED to champion" if result.get("promoted") else "NOT promoted (champion unchanged)"
    lines = [f"Promotion: {result['name']} version {result['version']} is challenger; {verdict}"]
    lines += [f"  {reason}" for reason in result.get("reasons", [])]
    if (result.get("selection") or {}).get("choice_reason"):
        lines.append(
            f"  student chosen among the recovered NAS candidates: {result['selection']['choice_reason']}"
        )
    if result.get("promoted") and result.get("previous"):
        lines.append(
            f"  previous champion: version {result['previous']} (alias 'previous'; `slimnlp registry rollback`)"
        )
    return "\n".join(lines)


def write_decision(out_dir: Path, result: dict[str, Any]) -> None:
    (out_dir / "decision.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


def promote_student(
    cfg: RunConfig,
    client: Any,
    run: Any,
    data_dir: str | Path,
    teacher_dir: str | Path,
    onnx_dir: str | Path,
    results_dir: str | Path,
    out: Path,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """The promote step's work inside its MLflow run `run` (a tracking.StepRun); see steps.promote.

    1. package the student's ONNX export as a pyfunc and score it on the test set (a package that
       cannot predict is never registered);
    2. score the current champion on the same test set;
    3. decide; 4. upload and register (tags); 5. move the aliases.
    """
    from slimnlp.data import read_label_map, read_split

    name = model_name(cfg)
    texts, label_ids = read_split(data_dir, "test")
    id2label = read_label_map(data_dir)
    labels = [id2label[i] for i in label_ids]
    variant = cfg.registry.serve_variant
    student, teacher = _benchmark_rows(Path(results_dir), cfg.registry.latency_metric, variant)
    model_dir = package_model(onnx_dir, out / MODEL_ARTIFACT, variant, texts)
    served = score_pyfunc(str(model_dir), texts, labels)
    candidate = {**student, "served_accuracy": served["accuracy"]}
    tags = _version_tags(cfg, client, run.run_id, parent_run_id, data_dir, teacher_dir, student, served)
    tags[TAG + "teacher_accuracy"] = teacher["accuracy"]
    selection = student_selection(onnx_dir)
    tags |= {TAG + key: value for key, value in selection.items()}
    # From reading the champion to moving the aliases, one run at a time (another may promote now).
    with promotion_lock(client, name, holder=f"run {run.run_id}"):
        champion = champion_numbers(client, name, texts, labels)
        decision = decide(candidate, teacher, champion, cfg.registry, selection)
        version = register(client, name, run.run_id, model_dir, tags)
        result = apply_decision(client, name, version, decision)
    result |= {
        "registered": True,
        "reasons": decision.reasons,
        "checks": decision.to_dict()["checks"],
        "candidate": candidate,
        "teacher": teacher,
        "champion_before": champion,
        "gate": cfg.registry.gate,
        "min_ratio": cfg.registry.min_ratio,
        "selection": selection,
    }
    run.log_dict(result, "decision.json")
    run.client.set_tag(run.run_id, TAG + "promotion", "promoted" if decision.promote else "refused")
    run.client.set_tag(run.run_id, TAG + "registered_version", f"{name}/{version}")
    _report_the_decision(cfg, run, Path(results_dir), out, result, parent_run_id)
    return result


def _report_the_decision(
    cfg: RunConfig, run: Any, results_dir: Path, out: Path, result: dict[str, Any], parent_run_id: str | None
) -> None:
    """report.html and results.md again, opened by the decision (slimnlp.promote.report). The aliases
    have moved by now: a report that cannot be written is a warning, not a failed promotion."""
    from slimnlp.promote import report

    try:
        files = report.rewrite_report(results_dir, out, result, cfg.registry.latency_metric)
        report.log_report(run.client, parent_run_id or run.run_id, files)
    except Exception as err:  # noqa: BLE001 - plots, fonts, the artifact store: none may undo the decision
        print(f"promote: warning: the report with the decision was not written ({type(err).__name__}: {err})")


def _benchmark_rows(
    results_dir: Path, latency_metric: str, variant: str = "fp32"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The student's and the teacher's rows of the served ONNX variant (`registry.serve_variant`:
    the gate decides on what serves) from results.json."""
    path = results_dir / "results.json"
    if not path.is_file():
        raise RegistryError(f"{path} does not exist; pass the benchmark output directory")
    results = json.loads(path.read_text(encoding="utf-8"))
    rows = {row["name"]: row for row in results["rows"]}
    picked = []
    runtime = SERVED_RUNTIMES[variant]
    for role in ("student", "teacher"):
        row = rows.get(f"{role}-{runtime}")
        if row is None:
            raise RegistryError(
                f"{path} has no {role}-{runtime} row (rows: {sorted(rows)}); the gate compares the ONNX "
                f"model that is registered (registry.serve_variant={variant}): keep {runtime!r} in "
                "benchmark.runtimes"
            )
        if latency_metric not in row:
            raise RegistryError(
                f"{path}: {role}-onnx has no {latency_metric!r}; set registry.latency_metric to a latency "
                f"column of the benchmark ({sorted(k for k in row if k.startswith('latency_'))})"
            )
        picked.append(
            {
                "accuracy": float(row["accuracy"]),
                "macro_f1": float(row.get("macro_f1", float("nan"))),
                "latency_ms": float(row[latency_metric]),
                "size_bytes": float(row["size_bytes"]),
                "params_total": row.get("params_total"),
                "latency_spread": spread_from_results(results, f"{role}-{runtime}", latency_metric),
                "variant": variant,
                "correct": (results.get("correct") or {}).get(f"{role}-{runtime}"),  # the gate's paired test
            }
        )
    return picked[0], picked[1]


def _version_tags(
    cfg: RunConfig,
    client: Any,
    run_id: str,
    parent_run_id: str | None,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student: dict[str, Any],
    served: dict[str, float],
) -> dict[str, Any]:
    """Where the version came from and what it measured, as registry tags."""
    config = cfg.to_dict()
    recipe = {key: config[key] for key in ("prune", "distill", "finetune_amp", "export")}
    return {
        TAG + "source_run": parent_run_id or run_id,
        TAG + "promote_run": run_id,
        TAG + "teacher": _read_json(Path(teacher_dir) / "metrics.json").get("source", str(teacher_dir)),
        TAG + "recipe": json.dumps(recipe, sort_keys=True)[:5000],
        TAG + "data_sha256": _read_json(Path(data_dir) / "data_report.json").get("data_sha256", "unknown"),
        TAG + "test_accuracy": student["accuracy"],
        TAG + "test_macro_f1": student["macro_f1"],
        TAG + "served_accuracy": served["accuracy"],
        TAG + "latency_ms": student["latency_ms"],
        TAG + "latency_metric": cfg.registry.latency_metric,
        TAG + "latency_spread": student.get("latency_spread"),
        TAG + "size_bytes": int(student["size_bytes"]),
        TAG + "params_total": student["params_total"],
        TAG + "emissions_kg_co2": _pipeline_emissions(client, run_id, parent_run_id),
    }


# What select-student (NAS, prune.nas.recover_top_k) said of the student it chose, when it chose one.
SELECTION_KEYS = (
    "choice_reason",
    "student_holds_budget",
    "student_arch",
    "candidates_recovered",
    "selection_delta_vs_teacher",
    "selection_delta_low",
    "selection_delta_high",
)


def student_selection(onnx_dir: str | Path) -> dict[str, Any]:
    """Why this student was chosen among the recovered NAS candidates (its model metrics, which
    export-onnx keeps as model_metrics.json): registered as version tags, so a challenger that holds no
    budget says so in the registry; {} when no choice among candidates was made."""
    from slimnlp.export.onnx import MODEL_METRICS_FILE

    metrics = _read_json(Path(onnx_dir) / MODEL_METRICS_FILE)
    return {key: metrics[key] for key in SELECTION_KEYS if key in metrics}


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _pipeline_emissions(client: Any, run_id: str, parent_run_id: str | None) -> float | str:
    """CO2 (kg) of the pipeline's steps so far: the sum over the parent run's step runs."""
    if not parent_run_id:
        return "unknown"
    experiment_id = client.get_run(run_id).info.experiment_id
    runs = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'")
    return float(sum(r.data.metrics.get("emissions_kg_co2", 0.0) for r in runs))
