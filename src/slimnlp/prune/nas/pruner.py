"""The `nas` pruner: order, train the super-network, measure the latency table, search, check the
front, select by budget, slice.

    slimnlp prune --config configs/nas-shc.yaml --data runs/x/data --teacher runs/x/teacher --out runs/x/pruned

Writes under `<out>/prune_artifacts/`: latency_table.json (with the machine), front.{json,csv,md,png},
supernet_history.json; all are logged to the step's MLflow run before the selection, so a target no
point meets fails the step without losing the front.
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slimnlp.config import PruneConfig
from slimnlp.config.nas import NasConfig
from slimnlp.prune.base import PruneContext, PruneReport, Split, register_pruner
from slimnlp.prune.importance import taylor_importance
from slimnlp.prune.nas.front import check_front, latency_model_error, select_point, spread, write_front
from slimnlp.prune.nas.latency import LatencyTarget, measure_latency_table
from slimnlp.prune.nas.search import pareto_front, search
from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from slimnlp.prune.nas.supernet import order_by_importance, slice_subnetwork
from slimnlp.prune.nas.training import train_supernet
from slimnlp.prune.removal import build_report, measure
from slimnlp.training.batches import evaluate, predict_logits

ARTIFACTS = "prune_artifacts"


def latency_target(context: PruneContext, section: NasConfig) -> tuple[LatencyTarget, int]:
    """The benchmark's runtime settings (or its defaults without a run config) and the batch size
    the search minimises."""
    from slimnlp.config import BenchmarkConfig, ExportConfig

    run = context.run
    bench = run.benchmark if run is not None else BenchmarkConfig()
    target = LatencyTarget(
        runtime=section.latency_runtime,
        threads=bench.threads,
        batch_sizes=tuple(bench.batch_sizes),
        sequence_length=min(bench.sequence_length, context.max_length),  # no model reads past it
        rounds=section.latency_rounds,
        iterations=section.latency_iterations,
        warmup=min(bench.warmup, 2),
        unit_probes=section.latency_unit_probes,
        export=run.export if run is not None else ExportConfig(),
    )
    batch = section.latency_batch_size or max(bench.batch_sizes)
    if batch not in target.batch_sizes:
        target = LatencyTarget(**{**target.__dict__, "batch_sizes": (*target.batch_sizes, batch)})
    return target, batch


def accuracy_budget(context: PruneContext, section: NasConfig) -> float:
    """prune.nas.max_accuracy_drop, else the promotion gate's registry.max_drop_vs_teacher."""
    if section.max_accuracy_drop is not None:
        return section.max_accuracy_drop
    from slimnlp.config import RunConfig

    run = context.run if context.run is not None else RunConfig()
    return run.registry.max_drop_vs_teacher


class _Stages:
    """Wall seconds of each stage (reported, and logged to MLflow)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        yield
        self.seconds[f"nas_seconds_{name}"] = time.perf_counter() - start


def _log(context: PruneContext, metrics: dict[str, Any], step: int | None = None) -> None:
    if context.mlflow_run is not None:
        context.mlflow_run.log_metrics(metrics, step=step)


def _log_artifacts(context: PruneContext, folder: Path) -> None:
    if context.mlflow_run is not None:
        context.mlflow_run.log_artifacts(folder, ARTIFACTS)


@register_pruner("nas")
class NasPruner:
    trains = False  # its own sandwich loop, not the one loop

    def wants_teacher_logits(self, config: PruneConfig) -> bool:
        return False  # the model it gets is the teacher: it computes them itself

    def prune(
        self, model: Any, tokenizer: Any, train: Split, dev: Split, context: PruneContext
    ) -> PruneReport:
        section: NasConfig = context.config.nas
        stages, length = _Stages(), context.max_length
        with tempfile.TemporaryDirectory(prefix="slimnlp-nas-") as tmp:
            folder = context.out_dir / ARTIFACTS if context.out_dir is not None else Path(tmp) / ARTIFACTS
            folder.mkdir(parents=True, exist_ok=True)
            before = measure(model)
            teacher_accuracy = float(evaluate(model, tokenizer, dev[0], dev[1], length)["accuracy"])
            with stages("order"):
                importance = taylor_importance(
                    model, tokenizer, train[0], train[1], batches=section.importance_batches,
                    batch_size=section.batch_size, max_length=length,
                )
                order = order_by_importance(model, importance)
            teacher_logits = context.teacher_logits
            if teacher_logits is None and section.alpha > 0:
                teacher_logits = predict_logits(model, tokenizer, train[0], length)
            layout = before.heads_per_layer, before.neurons_per_layer
            space = SearchSpace.of_model(
                len(layout[0]), max(layout[0]), max(layout[1]), section, context.config.min_heads_per_layer
            )
            target, batch = latency_target(context, section)
            with stages("latency_table"):
                table = measure_latency_table(
                    model, tokenizer, space, dev[0], target, Path(tmp) / "probes", context.progress
                )
            table.save(folder / "latency_table.json")
            with stages("supernet"):
                history = train_supernet(
                    model, tokenizer, train, dev, space, section, max_length=length, seed=context.seed,
                    teacher_logits=teacher_logits, progress=context.progress,
                    on_eval=lambda step, record: _log(context, record, step),
                )
            history_dict = {"steps": history.steps, "seconds": history.seconds, "stopped_by": history.stopped_by,
                            "records": history.records}
            (folder / "supernet_history.json").write_text(json.dumps(history_dict, indent=2), encoding="utf-8")
            with stages("search"):
                search_dev = dev if section.search_dev_rows is None else (
                    dev[0][: section.search_dev_rows], dev[1][: section.search_dev_rows]
                )
                candidates = search(
                    model, tokenizer, search_dev, space, table, section, batch_size=batch, max_length=length,
                    seed=context.seed, progress=context.progress,
                )
                front = pareto_front(candidates)
            with stages("front_checks"):
                points, teacher = check_front(
                    model, tokenizer, spread(front, section.front_checks), table, target, dev[0], dev, length,
                    Path(tmp) / "front", teacher_arch=space.largest(), progress=context.progress,
                )
            teacher["dev_accuracy"] = teacher_accuracy
            errors = latency_model_error(points, target.batch_sizes)
            write_front(folder, points, teacher, batch_sizes=target.batch_sizes, batch_size=batch)
            _log(context, {**errors, **stages.seconds, "nas_candidates": len(candidates), "nas_front_size": len(front)})
            _log_artifacts(context, folder)
            budget = accuracy_budget(context, section)
            chosen = select_point(
                points, teacher_accuracy, section.select, batch_size=batch, max_accuracy_drop=budget,
                max_latency_ms=section.max_latency_ms, min_speedup=section.min_speedup,
            )
            write_front(folder, points, teacher, batch_sizes=target.batch_sizes, batch_size=batch,
                        selected=chosen["arch"])
            _log_artifacts(context, folder)
        arch = SubNetwork.from_key(chosen["arch"])
        slice_subnetwork(model, arch)
        extras = {
            "nas_selected": chosen["arch"],
            "nas_select": section.select,
            "nas_accuracy_budget": budget,
            "nas_teacher_dev_accuracy": teacher_accuracy,
            "nas_kept_layers": arch.kept_layers,
            "dev_accuracy": chosen["dev_accuracy"],
            "nas_supernet_steps": history.steps,
            "nas_candidates": len(candidates),
            "nas_front_size": len(front),
            "nas_front_checked": len(points),
            "nas_latency_batch_size": batch,
            "nas_latency_runtime": target.runtime,
            **{f"nas_selected_{k}": v for k, v in chosen.items() if k.startswith(("measured", "predicted", "speedup"))},
            **errors,
            **stages.seconds,
        }
        return build_report("nas", model, before, order.kept_heads(arch), [], extras)
