"""The pipeline steps, each a plain function with the same contract.

Every step reads input artifact directories and the run config, writes one output directory and
returns its metrics (also written to `<out_dir>/metrics.json`). The CLI verbs, the KFP components
and the tests all call these functions, so a step gives the same result wherever it runs.

    slimnlp prepare-data --out runs/x/data
    slimnlp train-teacher --data runs/x/data --out runs/x/teacher
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import torch

from slimnlp import modeling, tracking
from slimnlp.config import RunConfig
from slimnlp.step_entry import STEP_NAMES  # noqa: F401 - re-exported: the step contract's names
from slimnlp.training import (
    LoopSettings,
    default_device,
    evaluate,
    predict_logits,
    resolve_precision,
    train_classifier,
)

# --------------------------------------------------------------------------------------------------
# Shared pieces


def _splits(data_dir: str | Path):
    from slimnlp.data import read_label_map, read_split

    data_dir = Path(data_dir)
    return (
        read_split(data_dir, "train"),
        read_split(data_dir, "dev"),
        read_split(data_dir, "test"),
        read_label_map(data_dir),
    )


def _out(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _model_metrics(
    model, tokenizer, test, id2label, max_length: int, prefix: str = "test_"
) -> dict[str, Any]:
    scores = evaluate(model, tokenizer, test[0], test[1], max_length, id2label)
    params = modeling.count_parameters(model)
    return {
        f"{prefix}accuracy": scores["accuracy"],
        f"{prefix}macro_f1": scores["macro_f1"],
        f"{prefix}per_class_f1": scores["per_class_f1"],
        "params_total": params["total"],
        "params_embeddings": params["embeddings"],
        "params_non_embedding": params["non_embedding"],
        "layout": modeling.model_layout(model),
    }


def _finish(
    run: tracking.StepRun, out: Path, metrics: dict[str, Any], model_dir: bool = True
) -> dict[str, Any]:
    if model_dir:
        metrics["size_bytes"] = modeling.dir_size_bytes(out)
    modeling.write_metrics(out, metrics)
    run.out_dir = out
    run.log_metrics(metrics)
    run.log_artifacts(out, out.name if out.name else "output")
    return metrics


def _save_model(
    run: tracking.StepRun, out: Path, model, tokenizer, test, id2label, cfg: RunConfig, extra: dict[str, Any]
) -> dict[str, Any]:
    """Score the trained model on the test set, save it as a model directory, log and return metrics."""
    model = model.cpu().float()
    metrics = {**extra, **_model_metrics(model, tokenizer, test, id2label, cfg.teacher.max_length)}
    modeling.save_model_dir(model, tokenizer, out)
    return _finish(run, out, metrics)


def _teacher_logits(teacher_dir: str | Path, texts: list[str], max_length: int) -> torch.Tensor:
    teacher, tokenizer = modeling.load_model_dir(teacher_dir, default_device())
    return predict_logits(teacher, tokenizer, texts, max_length)


def _settings(
    section: Any, cfg: RunConfig, *, alpha: float = 0.0, temperature: float = 2.0, precision: str = "fp32"
) -> LoopSettings:
    return LoopSettings(
        epochs=section.epochs,
        batch_size=section.batch_size,
        learning_rate=section.learning_rate,
        weight_decay=getattr(section, "weight_decay", 0.01),
        warmup_ratio=getattr(section, "warmup_ratio", 0.1),
        patience=section.patience,
        alpha=alpha,
        temperature=temperature,
        precision=precision,
        max_length=cfg.teacher.max_length,
        seed=cfg.seed,
    )


def _epoch_logger(run: tracking.StepRun):
    return lambda epoch, record: run.log_metrics(record, step=epoch)


# --------------------------------------------------------------------------------------------------
# The steps


def prepare_data(cfg: RunConfig, out_dir: str | Path, *, parent_run_id: str | None = None) -> dict[str, Any]:
    """Load, clean and split the labelled data into out_dir (train/dev/test.jsonl, label_map.json,
    data_report.json)."""
    from slimnlp.data import prepare_data_files

    out = _out(out_dir)
    with tracking.step_run(cfg, "prepare-data", parent_run_id, params={"data": cfg.to_dict()["data"]}) as run:
        report = prepare_data_files(cfg.data, out)
        run.log_dict(report, "data_report.json")
        return _finish(run, out, dict(report), model_dir=False)


def train_teacher(
    cfg: RunConfig, data_dir: str | Path, out_dir: str | Path, *, parent_run_id: str | None = None
) -> dict[str, Any]:
    """Fine-tune a checkpoint, or build a BERT from the config with a WordPiece tokenizer trained on
    the training text; early stopping on dev keeps the best epoch. out_dir is a model directory."""
    t = cfg.teacher
    out = _out(out_dir)
    with tracking.step_run(
        cfg, "train-teacher", parent_run_id, params={"teacher": cfg.to_dict()["teacher"]}
    ) as run:
        train, dev, test, id2label = _splits(data_dir)
        if t.checkpoint:
            model, tokenizer = modeling.load_checkpoint(t.checkpoint, id2label, out / ".cache")
            # Saved with the tokenizer, so export, benchmark and serving truncate as training did.
            tokenizer.model_max_length = t.max_length
            source = t.checkpoint
        else:
            tokenizer = modeling.train_wordpiece(train[0], t.vocab_size, t.max_length)
            model = modeling.build_bert(
                len(tokenizer),
                len(id2label),
                id2label,
                num_layers=t.num_layers,
                hidden_size=t.hidden_size,
                num_heads=t.num_heads,
                intermediate_size=t.intermediate_size,
                max_length=t.max_length,
                dropout=t.dropout,
                pad_token_id=tokenizer.pad_token_id,
            )
            source = "from-config"
        print(
            f"train-teacher: {source}, {modeling.count_parameters(model)['total']:,} parameters, "
            f"{len(train[0])} training texts",
            flush=True,
        )
        history = train_classifier(
            model, tokenizer, train, dev, _settings(t, cfg), on_epoch=_epoch_logger(run)
        )
        shutil.rmtree(out / ".cache", ignore_errors=True)
        return _save_model(run, out, model, tokenizer, test, id2label, cfg, {"source": source, **history})


def prune(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Structured pruning of heads and FFN neurons by first-order Taylor importance, with physical
    removal; out_dir is a (smaller) model directory."""
    from slimnlp.pruning import prune_model, taylor_importance

    p = cfg.prune
    out = _out(out_dir)
    with tracking.step_run(cfg, "prune", parent_run_id, params={"prune": cfg.to_dict()["prune"]}) as run:
        train, dev, test, id2label = _splits(data_dir)
        model, tokenizer = modeling.load_model_dir(teacher_dir, default_device())
        modeling.encoder_layers(model)  # fails early, naming supported types, for unknown layouts
        importance = taylor_importance(
            model,
            tokenizer,
            train[0],
            train[1],
            batches=p.importance_batches,
            batch_size=cfg.teacher.batch_size,
            max_length=cfg.teacher.max_length,
        )
        report = prune_model(
            model,
            importance,
            p.head_sparsity or p.target_sparsity,
            p.ffn_sparsity or p.target_sparsity,
            p.min_heads_per_layer,
        )
        print(
            f"prune: heads per layer {report['heads_per_layer_before']} -> {report['heads_per_layer_after']}, "
            f"FFN {report['neurons_per_layer_before']} -> {report['neurons_per_layer_after']}, "
            f"parameters {report['params_before']:,} -> {report['params_after']:,}",
            flush=True,
        )
        dev_scores = evaluate(model, tokenizer, dev[0], dev[1], cfg.teacher.max_length)
        extra = {**report, "dev_accuracy": dev_scores["accuracy"], "dev_macro_f1": dev_scores["macro_f1"]}
        return _save_model(run, out, model, tokenizer, test, id2label, cfg, extra)


def distill(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Knowledge distillation (alpha * KD + (1 - alpha) * CE) from the teacher into the student
    (student=pruned), or into a shallower copy of it (student=layers); out_dir is a model directory."""
    d = cfg.distill
    out = _out(out_dir)
    with tracking.step_run(
        cfg, "distill", parent_run_id, params={"distill": cfg.to_dict()["distill"]}
    ) as run:
        train, dev, test, id2label = _splits(data_dir)
        # The student first: a bad student dir fails before the teacher has run.
        model, tokenizer = modeling.load_model_dir(student_dir)
        teacher_logits = _teacher_logits(teacher_dir, train[0], cfg.teacher.max_length)
        kept_layers = None
        if d.student == "layers":
            kept_layers = modeling.keep_layers(model, d.student_layers)
        history = train_classifier(
            model,
            tokenizer,
            train,
            dev,
            _settings(d, cfg, alpha=d.alpha, temperature=d.temperature),
            teacher_logits=teacher_logits,
            on_epoch=_epoch_logger(run),
        )
        return _save_model(
            run, out, model, tokenizer, test, id2label, cfg, {"kept_layers": kept_layers, **history}
        )


def finetune_amp(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Mixed-precision fine-tune (fp16 + gradient scaling on CUDA; bf16 on CPU only when asked:
    fp32 is the CPU default); logs which precision ran and why. out_dir is a model directory."""
    a = cfg.finetune_amp
    out = _out(out_dir)
    device = default_device()
    precision, reason = resolve_precision(a.precision, device)
    with tracking.step_run(
        cfg, "finetune-amp", parent_run_id, params={"finetune_amp": cfg.to_dict()["finetune_amp"]}
    ) as run:
        train, dev, test, id2label = _splits(data_dir)
        run.client.set_tag(run.run_id, "slimnlp.precision", precision)
        run.client.set_tag(run.run_id, "slimnlp.precision_reason", reason)
        print(f"finetune-amp: precision {precision} on {device} ({reason})", flush=True)
        model, tokenizer = modeling.load_model_dir(student_dir)
        history: dict[str, Any] = {"epochs_run": 0}
        if a.epochs > 0:
            teacher_logits = (
                _teacher_logits(teacher_dir, train[0], cfg.teacher.max_length) if a.alpha > 0 else None
            )
            history = train_classifier(
                model,
                tokenizer,
                train,
                dev,
                _settings(a, cfg, alpha=a.alpha, temperature=a.temperature, precision=precision),
                teacher_logits=teacher_logits,
                on_epoch=_epoch_logger(run),
                device=device,
            )
        return _save_model(
            run,
            out,
            model,
            tokenizer,
            test,
            id2label,
            cfg,
            {**history, "precision": precision, "precision_reason": reason, "device": device},
        )


def export_onnx(
    cfg: RunConfig,
    data_dir: str | Path,
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """ONNX export with a parity check on real test texts (+ optional int8); out_dir holds model.onnx,
    model.int8.onnx and what serving needs (tokenizer, config, layout)."""
    from slimnlp.export import export_onnx_model

    out = _out(out_dir)
    with tracking.step_run(
        cfg, "export-onnx", parent_run_id, params={"export": cfg.to_dict()["export"]}
    ) as run:
        _, _, test, _ = _splits(data_dir)
        metrics = export_onnx_model(
            model_dir, out, test[0], cfg.export, labels=test[1], max_length=cfg.teacher.max_length
        )
        return _finish(run, out, dict(metrics), model_dir=False)


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
    (fp32 and int8); out_dir holds results.json/.md/.csv and plots."""
    from slimnlp.benchmark import Variant, benchmark_models
    from slimnlp.export import export_onnx_model

    out = _out(out_dir)
    with tracking.step_run(
        cfg, "benchmark", parent_run_id, params={"benchmark": cfg.to_dict()["benchmark"]}
    ) as run:
        _, _, test, id2label = _splits(data_dir)
        started = time.perf_counter()
        # The teacher goes through the same export so that runtimes compare like with like.
        teacher_onnx = out / "teacher_onnx"
        export_onnx_model(
            teacher_dir, teacher_onnx, test[0], cfg.export, labels=test[1], max_length=cfg.teacher.max_length
        )
        variants = _variants(Variant, cfg.benchmark.runtimes, "teacher", teacher_dir, teacher_onnx)
        variants += _variants(Variant, cfg.benchmark.runtimes, "student", student_dir, Path(student_onnx_dir))
        results = benchmark_models(variants, test[0], test[1], id2label, cfg.benchmark, out)
        shutil.rmtree(teacher_onnx / ".cache", ignore_errors=True)
        metrics = {"benchmark_seconds": time.perf_counter() - started}
        for row in results["rows"]:
            metrics.update(
                {
                    f"{row['name']}.{k}": v
                    for k, v in row.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
            )
        run.log_dict(results, "results.json")
        metrics = _finish(run, out, metrics, model_dir=False)
        return {**metrics, "rows": results["rows"]}


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
