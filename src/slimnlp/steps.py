"""The pipeline steps, each a plain function with the same contract.

Every step reads input artifact directories and the run config, writes one output directory and
returns its metrics (also written to `<out_dir>/metrics.json`). The CLI verbs, the KFP components
and the tests all call these functions, so a step gives the same result wherever it runs.

    slimnlp prepare-data --out runs/x/data
    slimnlp train-teacher --data runs/x/data --out runs/x/teacher
"""

from __future__ import annotations

import dataclasses
import math
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
    classification_metrics,
    default_device,
    distinct_text_scores,
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
    texts, labels = test[0], test[1]
    predictions = predict_logits(model, tokenizer, texts, max_length).argmax(-1).numpy()
    scores = classification_metrics(predictions, labels, id2label)
    distinct = distinct_text_scores(texts, labels, predictions)
    params = modeling.count_parameters(model)
    return {
        f"{prefix}accuracy": scores["accuracy"],
        f"{prefix}macro_f1": scores["macro_f1"],
        f"{prefix}per_class_f1": scores["per_class_f1"],
        **{f"{prefix}{key}": value for key, value in distinct.items()},
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


def pretrain_mlm(
    cfg: RunConfig,
    data_dir: str | Path | None,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
    corpus: list[str] | None = None,
) -> dict[str, Any]:
    """In-domain masked-LM pretraining (slimnlp.pretrain) on pretrain.corpus (or `corpus`) plus the
    task's training text; cached and resumable by a hash of both and the config. out_dir is a
    masked-LM model directory that train-teacher loads as its checkpoint."""
    from slimnlp.corpus import corpus_hash, read_corpus
    from slimnlp.pretrain import cache_key, pretrain

    p = cfg.pretrain
    out = _out(out_dir)
    with tracking.step_run(
        cfg, "pretrain-mlm", parent_run_id, params={"pretrain": cfg.to_dict()["pretrain"]}
    ) as run:
        sources = list(corpus or p.corpus)
        cache_root = Path(p.cache_dir or Path(cfg.output_dir) / "pretrain-cache").expanduser().resolve()
        downloads = cache_root / "downloads"
        corpus_texts = read_corpus(sources, p.text_column, downloads) if sources else []
        # Each distinct text once (order kept): a file kept as published (data.drop_duplicates=false)
        # would otherwise weigh repeated texts in the tokenizer and the MLM, and change the cache key.
        task_texts = list(dict.fromkeys(_splits(data_dir)[0][0])) if data_dir and p.include_task_text else []
        if not corpus_texts and not task_texts:
            raise ValueError(
                "pretrain-mlm has no text: set pretrain.corpus (--corpus PATH) or pass --data DIR"
            )
        key = cache_key(p, corpus_hash(sources, downloads) if sources else "", task_texts, cfg.seed)
        model_dir, metrics = pretrain(
            p, corpus_texts, task_texts, cache_root / key, cfg.seed,
            on_log=lambda step, record: run.log_metrics(record, step=step),
        )  # fmt: skip
        shutil.copytree(model_dir, out, dirs_exist_ok=True)
        print(f"pretrain-mlm: {'reused' if metrics['cached'] else 'wrote'} {cache_root / key}", flush=True)
        metrics.update(cache_key=key, cache_dir=str(cache_root / key), corpus_sentences=len(corpus_texts))
        return _finish(run, out, metrics)


def _vocab_transfer(section: Any, cfg: RunConfig, model, tokenizer, texts: list[str]):
    """Fast vocabulary transfer when the section asks for it (teacher/distill.vocab_transfer)."""
    if not section.vocab_transfer:
        return model, tokenizer, {}
    from slimnlp.vocab_transfer import apply_vocab_transfer

    return apply_vocab_transfer(
        model, tokenizer, texts, section.vocab_transfer, mlm_steps=section.vocab_transfer_mlm_steps,
        max_length=cfg.teacher.max_length, seed=cfg.seed,
    )  # fmt: skip


def train_teacher(
    cfg: RunConfig,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
    pretrained_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Fine-tune a checkpoint (teacher.checkpoint, or the pretrain-mlm output `pretrained_dir`), or
    build a BERT from the config with a WordPiece tokenizer trained on the training text; optionally
    fast vocabulary transfer first (teacher.vocab_transfer). Early stopping on dev keeps the best
    epoch. out_dir is a model directory."""
    t = cfg.teacher
    if pretrained_dir:
        t = dataclasses.replace(t, checkpoint=str(pretrained_dir))
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
        model, tokenizer, fvt = _vocab_transfer(t, cfg, model, tokenizer, train[0])
        print(
            f"train-teacher: {source}, {modeling.count_parameters(model)['total']:,} parameters, "
            f"{len(train[0])} training texts",
            flush=True,
        )
        history = train_classifier(
            model, tokenizer, train, dev, _settings(t, cfg), on_epoch=_epoch_logger(run)
        )
        shutil.rmtree(out / ".cache", ignore_errors=True)
        extra = {"source": source, **fvt, **history}
        return _save_model(run, out, model, tokenizer, test, id2label, cfg, extra)


def prune(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Structured pruning of heads and FFN neurons with physical removal: by first-order Taylor
    importance (prune.method=importance) or by block movement pruning with KD from the teacher
    (prune.method=block_movement); out_dir is a (smaller) model directory."""
    from slimnlp.pruning import block_movement_prune, prune_model, taylor_importance

    p = cfg.prune
    out = _out(out_dir)
    with tracking.step_run(cfg, "prune", parent_run_id, params={"prune": cfg.to_dict()["prune"]}) as run:
        train, dev, test, id2label = _splits(data_dir)
        model, tokenizer = modeling.load_model_dir(teacher_dir, default_device())
        modeling.encoder_layers(model)  # fails early, naming supported types, for unknown layouts
        if p.method == "block_movement":
            teacher_logits = (
                _teacher_logits(teacher_dir, train[0], cfg.teacher.max_length) if p.alpha > 0 else None
            )
            settings = dataclasses.replace(
                _settings(p, cfg, alpha=p.alpha, temperature=p.temperature),
                score_learning_rate=p.score_learning_rate,
            )
            report = block_movement_prune(
                model, tokenizer, train, dev, p, settings, teacher_logits, on_epoch=_epoch_logger(run)
            )
            print(
                f"prune (block movement, {p.block_size} blocks, target {p.target_sparsity:.0%}): heads per "
                f"layer {report['heads_per_layer_before']} -> {report['heads_per_layer_after']}, FFN "
                f"{report['neurons_per_layer_before']} -> {report['neurons_per_layer_after']}; structural "
                f"sparsity {report['structural_sparsity']:.1%}, weight sparsity {report['weight_sparsity']:.1%}",
                flush=True,
            )
            if report["layers_clamped_to_min_heads"]:
                print(
                    f"prune: layers {report['layers_clamped_to_min_heads']} keep {p.min_heads_per_layer} "
                    "head(s) (prune.min_heads_per_layer) although the target would remove every head there",
                    flush=True,
                )
            return _save_model(run, out, model, tokenizer, test, id2label, cfg, report)
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
        model, tokenizer, fvt = _vocab_transfer(d, cfg, model, tokenizer, train[0])
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
            run, out, model, tokenizer, test, id2label, cfg, {"kept_layers": kept_layers, **fvt, **history}
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
    (fp32 and int8), with a TF-IDF + logistic regression baseline trained on the train split;
    inference energy and the compression steps' energy payback. out_dir holds results.json/.md/.csv,
    report.html and plots; results.md and report.html are also logged to the MLflow parent run."""
    from slimnlp.baselines import train_tfidf_baseline
    from slimnlp.benchmark import Variant, benchmark_models
    from slimnlp.benchmark_energy import compression_energy
    from slimnlp.export import export_onnx_model

    out = _out(out_dir)
    with tracking.step_run(
        cfg, "benchmark", parent_run_id, params={"benchmark": cfg.to_dict()["benchmark"]}
    ) as run:
        train, _, test, id2label = _splits(data_dir)
        if not test[0]:
            raise ValueError(
                f"the test split {Path(data_dir) / 'test.jsonl'} is empty: nothing to benchmark on; "
                "check data.test_file / data.test_fraction and re-run prepare-data"
            )
        started = time.perf_counter()
        # The teacher goes through the same export so that runtimes compare like with like.
        teacher_onnx = out / "teacher_onnx"
        export_onnx_model(
            teacher_dir, teacher_onnx, test[0], cfg.export, labels=test[1], max_length=cfg.teacher.max_length
        )
        step_energy = _step_energy(
            run,
            parent_run_id,
            {"train-teacher": teacher_dir, "finetune-amp": student_dir, "export-onnx": student_onnx_dir},
        )
        spent = compression_energy(step_energy)
        variants = _variants(Variant, cfg.benchmark.runtimes, "teacher", teacher_dir, teacher_onnx)
        students = _variants(Variant, cfg.benchmark.runtimes, "student", student_dir, Path(student_onnx_dir))
        for student in students:
            student.compression_kwh = spent["compression_kwh"]
        variants += students
        if cfg.benchmark.tfidf_baseline:
            tfidf = train_tfidf_baseline(train[0], train[1], id2label, out / "tfidf", seed=cfg.seed)
            variants.append(
                Variant("tfidf-logreg", "sklearn", str(tfidf), str(tfidf), "baseline", str(tfidf))
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
        parent = tracking.resolve_parent_run_id(parent_run_id)
        if parent:  # the report belongs on the pipeline's own run, where people look first
            for kind in ("html", "markdown"):
                run.client.log_artifact(parent, results["files"][kind], "report")
        metrics = _finish(run, out, metrics, model_dir=False)
        return {**metrics, "rows": results["rows"], "summary": results["summary"]}


def _step_energy(run: tracking.StepRun, parent_run_id: str | None, dirs: dict[str, Any]) -> dict[str, Any]:
    """The steps' own CodeCarbon figures: from the sibling step runs in MLflow, else from the
    metrics.json of the directories this step was given."""
    from slimnlp.benchmark_energy import step_energy_from_metrics, step_energy_from_mlflow

    found = step_energy_from_metrics(dirs)
    parent = tracking.resolve_parent_run_id(parent_run_id)
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


def promote(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student_onnx_dir: str | Path,
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Register the student's ONNX export as an MLflow pyfunc version (alias challenger) and make it
    champion when the gate passes (slimnlp.promotion); out_dir holds decision.json and the model."""
    from slimnlp import promotion, registry

    out = _out(out_dir)
    if not cfg.registry.enabled:
        result: dict[str, Any] = {"registered": False, "reason": "registry.enabled is false"}
        promotion.write_decision(out, result)
        print(promotion.format_decision(result), flush=True)
        return {"promoted": 0}
    client = registry.connect(tracking.tracking_uri(cfg))  # a dead server fails here, in seconds
    params = {"registry": cfg.to_dict()["registry"], "registered_model": registry.model_name(cfg)}
    with tracking.step_run(cfg, "promote", parent_run_id, params=params) as run:
        result = promotion.promote_student(
            cfg,
            client,
            run,
            data_dir,
            teacher_dir,
            student_onnx_dir,
            results_dir,
            out,
            parent_run_id=tracking.resolve_parent_run_id(parent_run_id),
        )
        promotion.write_decision(out, result)
        print(promotion.format_decision(result), flush=True)
        metrics = {"promoted": int(result["promoted"]), "registered_version": int(result["version"])}
        tracking.write_json(out / "metrics.json", metrics)
        run.out_dir = out
        run.log_metrics(metrics)
        return {**metrics, "decision": result}


# --------------------------------------------------------------------------------------------------
# The experiment grid (slimnlp.grid; pipelines/grid.py wires these around the steps above)


def grid_branch_config(cfg: RunConfig, branch: dict[str, Any]) -> str:
    """The run config JSON of one grid branch (block movement at its sparsity, KD or not, its
    precision); the branch's steps run with it."""
    from slimnlp.grid import branch_config

    return branch_config(cfg, branch).to_json()


def grid_row(
    cfg: RunConfig,
    branch: dict[str, Any],
    pruned_dir: str | Path,
    student_dir: str | Path,
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """One grid branch's row (sparsity reached, precision that ran, accuracy, latency, size) and the
    teacher's row measured beside it; out_dir/row.json."""
    from slimnlp.grid import write_branch_row

    payload = write_branch_row(branch, pruned_dir, student_dir, results_dir, _out(out_dir))
    return {k: v for k, v in payload["row"].items() if isinstance(v, int | float) and not isinstance(v, bool)}


def grid_collect(
    cfg: RunConfig, row_dirs: list[str], out_dir: str | Path, *, parent_run_id: str | None = None
) -> dict[str, Any]:
    """Every branch's row in one table (grid.md, grid.csv, grid.json) and one plot (grid.png:
    accuracy vs latency, area = size), logged to the MLflow parent run under grid/."""
    from slimnlp.grid import write_grid_report

    out = _out(out_dir)
    with tracking.step_run(cfg, "grid-collect", parent_run_id, params={"grid": cfg.to_dict()["grid"]}) as run:
        report = write_grid_report(row_dirs, out)
        print(Path(report["files"]["markdown"]).read_text(encoding="utf-8"), flush=True)
        parent = tracking.resolve_parent_run_id(parent_run_id)
        for path in report["files"].values():
            run.client.log_artifact(parent or run.run_id, path, "grid")
        metrics: dict[str, Any] = {"branches": len(report["rows"])}
        for row in report["rows"]:
            for key in (
                "accuracy",
                "macro_f1",
                "latency_b32_p50_ms",
                "speedup_vs_teacher_b32",
                "structural_sparsity",
            ):
                if isinstance(row.get(key), int | float):
                    metrics[f"{row['branch']}.{key}"] = row[key]
        return _finish(run, out, metrics, model_dir=False)
