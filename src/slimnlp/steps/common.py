"""What every step body shares: its output directory, scoring and saving a model
directory, the loop settings of a config section, and finishing (metrics.json once, MLflow).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from slimnlp import models
from slimnlp.config import RunConfig
from slimnlp.mlops import tracking
from slimnlp.training.batches import predict_logits
from slimnlp.training.device import default_device
from slimnlp.training.loop import LoopSettings
from slimnlp.training.metrics import classification_metrics, distinct_text_scores


def make_output_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def score_model(model, tokenizer, test, id2label, max_length: int, prefix: str = "test_") -> dict[str, Any]:
    texts, labels = test[0], test[1]
    predictions = predict_logits(model, tokenizer, texts, max_length).argmax(-1).numpy()
    scores = classification_metrics(predictions, labels, id2label)
    distinct = distinct_text_scores(texts, labels, predictions)
    params = models.count_parameters(model)
    return {
        f"{prefix}accuracy": scores["accuracy"],
        f"{prefix}macro_f1": scores["macro_f1"],
        f"{prefix}per_class_f1": scores["per_class_f1"],
        **{f"{prefix}{key}": value for key, value in distinct.items()},
        "params_total": params["total"],
        "params_embeddings": params["embeddings"],
        "params_non_embedding": params["non_embedding"],
        "layout": models.model_layout(model),
    }


@contextlib.contextmanager
def step_body(
    cfg: RunConfig, name: str, out_dir: str | Path, parent_run_id: str | None, **params: Any
) -> Iterator[tuple[tracking.StepRun, Path]]:
    """The one body every step runs in: its output directory, a nested MLflow run named after the
    step with the step's config section (from the step list) as params, CodeCarbon around it, and
    metrics.json written once at the end (`finish_step`). A failure marks the run FAILED and leaves
    earlier steps' outputs alone."""
    from slimnlp.steps.spec import step_spec
    from slimnlp.training import distributed

    if not distributed.is_main_process():  # under torchrun: rank 0 has the run and the output
        with distributed.follower_step() as (run, scratch):
            yield run, scratch
        return
    section = step_spec(name).section
    out = make_output_dir(out_dir)
    params = {section: cfg.to_dict()[section], **params} if section else params
    with tracking.step_run(cfg, name, parent_run_id, params=params) as run:
        yield run, out


def finish_step(
    run: tracking.StepRun, out: Path, metrics: dict[str, Any], model_dir: bool = True
) -> dict[str, Any]:
    """The step's result: its size on disk for a model directory; metrics.json is written once, by
    `tracking.step_run`, when the step's block (and its energy measurement) ends."""
    if model_dir:
        metrics["size_bytes"] = models.dir_size_bytes(out)
    return run.finish(out, metrics)


def finish_model_step(
    run: tracking.StepRun, out: Path, model, tokenizer, test, id2label, extra: dict[str, Any]
) -> dict[str, Any]:
    """The end of a step that writes a model: score it on the test split, save it as a model
    directory in `out`, and finish the step (`finish_step`) with `extra` and the scores."""
    model = model.cpu().float()
    metrics = {**extra, **score_model(model, tokenizer, test, id2label, models.max_length_of(tokenizer))}
    models.save_model_dir(model, tokenizer, out)
    return finish_step(run, out, metrics)


def compute_teacher_logits(teacher_dir: str | Path, texts: list[str]) -> torch.Tensor:
    """The teacher's logits on `texts`, tokenised at the teacher's own length."""
    teacher, tokenizer = models.load_model_dir(teacher_dir, default_device())
    return predict_logits(teacher, tokenizer, texts, models.max_length_of(tokenizer))


def loop_settings(
    section: Any,
    cfg: RunConfig,
    tokenizer: Any,
    *,
    alpha: float = 0.0,
    temperature: float = 2.0,
    precision: str = "fp32",
    name: str = "",
) -> LoopSettings:
    """The loop settings of a training section (teacher, distill, finetune_amp, prune.block_movement):
    its own epochs, batch_size, learning_rate, weight_decay, warmup_ratio and patience; the loss terms
    and precision from the step; the sequence length the model's own tokenizer truncates at."""
    return LoopSettings.from_section(
        section,
        max_length=models.max_length_of(tokenizer),
        seed=cfg.seed,
        alpha=alpha,
        temperature=temperature,
        precision=precision,
        name=name,
    )


def epoch_logger(run: tracking.StepRun):
    return lambda epoch, record: run.log_metrics(record, step=epoch)
