"""The `nas` pruner: order, train the super-network, measure the latency table, search, check the
front, select by budget, slice.

    slimnlp prune --config configs/nas-shc.yaml --data runs/x/data --teacher runs/x/teacher --out runs/x/pruned

Writes under `<out>/prune_artifacts/`: latency_table.json (with the machine), front.{json,csv,md,png},
supernet_history.json and the trained super-network (supernet/, a model directory: any front point
can be sliced from it with `slimnlp.prune.nas.artifacts.slice_front_point`; the zero-layer point is
saved beside it in pooled/); all are logged to the step's MLflow run before the selection, so a target no
point meets fails the step without losing the front.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slimnlp.benchmark.paired import correct
from slimnlp.config import PruneConfig
from slimnlp.models import save_model_dir
from slimnlp.prune.base import PruneContext, PruneReport, Split
from slimnlp.prune.importance import taylor_importance
from slimnlp.prune.nas.artifacts import ARTIFACTS, POOLED_DIR, SUPERNET_DIR
from slimnlp.prune.nas.choose import CANDIDATES_DIR, CANDIDATES_FILE, recovery_candidates
from slimnlp.prune.nas.config import NasConfig
from slimnlp.prune.nas.front import (
    NasSelectionError,
    check_front,
    latency_model_error,
    select_point,
    spread,
    write_front,
)
from slimnlp.prune.nas.latency import LatencyTarget, measure_latency_table
from slimnlp.prune.nas.pooled import (
    PooledPoint,
    become_pooled,
    pooled_candidate,
    train_pooled_point,
)
from slimnlp.prune.nas.rows import dev_parts, take
from slimnlp.prune.nas.search import pareto_front, search
from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from slimnlp.prune.nas.supernet import order_by_importance, slice_subnetwork
from slimnlp.prune.nas.training import train_supernet
from slimnlp.prune.removal import build_report, measure
from slimnlp.training.batches import predict_logits


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


@dataclass
class _Run:
    """One nas run's state, stage by stage (each stage's wall time lands in `stages`)."""

    model: Any
    tokenizer: Any
    train: Split
    dev: Split
    context: PruneContext
    folder: Path
    workdir: Path
    stages: _Stages = field(default_factory=_Stages)
    pooled: PooledPoint | None = None  # the zero-layer point (prune.nas.pooled_point)

    @property
    def section(self) -> NasConfig:
        return self.context.config.nas

    def prepare(self) -> None:
        """Teacher accuracy, importance order, search space, latency table."""
        model, tokenizer, section, length = self.model, self.tokenizer, self.section, self.context.max_length
        self.before = measure(model)
        # Rows with one job each: the search (and the super-network's curves) read the search part,
        # the choice reads the selection part, scored against the teacher row by row.
        self.search_dev, self.selection_dev = dev_parts(
            self.dev, section.selection_fraction, self.context.seed
        )
        teacher_predictions = (
            predict_logits(model, tokenizer, self.selection_dev[0], length).argmax(-1).numpy()
        )
        self.teacher_correct = correct(teacher_predictions, self.selection_dev[1])
        self.teacher_accuracy = float(self.teacher_correct.mean())
        with self.stages("order"):
            importance = taylor_importance(
                model,
                tokenizer,
                *self.train,
                batches=section.importance_batches,
                batch_size=section.batch_size,
                max_length=length,
            )
            self.order = order_by_importance(model, importance)
        heads, units = self.before.heads_per_layer, self.before.neurons_per_layer
        self.space = SearchSpace.of_model(
            len(heads), max(heads), max(units), section, self.context.config.min_heads_per_layer
        )
        self.target, self.batch = latency_target(self.context, section)
        with self.stages("latency_table"):
            self.table = measure_latency_table(
                model,
                tokenizer,
                self.space,
                self.dev[0],
                self.target,
                self.workdir / "probes",
                self.context.progress,
            )
        self.table.save(self.folder / "latency_table.json")

    def train_supernet(self) -> None:
        teacher_logits = self.context.teacher_logits
        if teacher_logits is None and self.section.alpha > 0:
            teacher_logits = predict_logits(
                self.model, self.tokenizer, self.train[0], self.context.max_length
            )
        if self.section.pooled_point and self.space.drops_layers:  # from the teacher, before it changes
            with self.stages("pooled"):
                self.pooled = train_pooled_point(
                    self.model,
                    self.tokenizer,
                    self.train,
                    self.search_dev,
                    self.section,
                    max_length=self.context.max_length,
                    seed=self.context.seed,
                    teacher_logits=teacher_logits,
                    progress=self.context.progress,
                )
            _log(self.context, {"nas_pooled_search_accuracy": self.pooled.search_accuracy})
        with self.stages("supernet"):
            self.history = train_supernet(
                self.model,
                self.tokenizer,
                self.train,
                self.search_dev,
                self.space,
                self.section,
                max_length=self.context.max_length,
                seed=self.context.seed,
                teacher_logits=teacher_logits,
                progress=self.context.progress,
                on_eval=lambda step, record: _log(self.context, record, step),
            )
        (self.folder / "supernet_history.json").write_text(
            json.dumps(dataclasses.asdict(self.history), indent=2), encoding="utf-8"
        )

    def search_front(self) -> None:
        """Search, the Pareto front, its end-to-end checks; written and logged before any selection."""
        section, rows = self.section, self.section.search_dev_rows
        search_dev = (
            self.search_dev
            if rows is None
            else take(self.search_dev, list(range(min(rows, len(self.search_dev[0])))))
        )
        with self.stages("search"):
            self.candidates = search(
                self.model,
                self.tokenizer,
                search_dev,
                self.space,
                self.table,
                section,
                batch_size=self.batch,
                max_length=self.context.max_length,
                seed=self.context.seed,
                progress=self.context.progress,
            )
            if self.pooled is not None:
                self.candidates.append(pooled_candidate(self.pooled, self.table, self.batch))
            self.front = pareto_front(self.candidates)
        with self.stages("front_checks"):
            self.points, self.teacher = check_front(
                self.model,
                self.tokenizer,
                spread(self.front, section.front_checks),
                self.table,
                self.target,
                self.dev[0],
                self.selection_dev,
                self.context.max_length,
                self.workdir / "front",
                teacher_arch=self.space.largest(),
                teacher_correct=self.teacher_correct,
                confidence=section.confidence,
                progress=self.context.progress,
                own_models={self.pooled.arch.key: self.pooled.model} if self.pooled else None,
            )
        self.teacher["dev_accuracy"] = self.teacher_accuracy
        self.errors = latency_model_error(self.points, self.target.batch_sizes)
        write_front(
            self.folder, self.points, self.teacher, batch_sizes=self.target.batch_sizes, batch_size=self.batch
        )
        if section.save_supernet:  # every front point stays sliceable: slice_front_point(folder, arch, out)
            save_model_dir(self.model, self.tokenizer, self.folder / SUPERNET_DIR)
            if self.pooled is not None:
                save_model_dir(self.pooled.model, self.tokenizer, self.folder / POOLED_DIR)
        counts = {"nas_candidates": len(self.candidates), "nas_front_size": len(self.front)}
        _log(self.context, {**self.errors, **self.stages.seconds, **counts})
        if self.context.mlflow_run is not None:
            self.context.mlflow_run.log_artifacts(self.folder, ARTIFACTS)

    def select(self) -> dict[str, Any]:
        """The point the rule picks (NasSelectionError when none meets it); the front marks it. With
        recovery to come (recover_top_k > 1), a budget no point clears *confidently* before recovery
        does not fail the step: the point closest to clearing it is the safe candidate, and
        select-student decides after recovery (the most accurate as challenger when none holds)."""
        section = self.section
        self.budget = accuracy_budget(self.context, section)
        self.confident = True
        try:
            chosen = select_point(
                self.points,
                self.teacher_accuracy,
                section.select,
                batch_size=self.batch,
                max_accuracy_drop=self.budget,
                max_latency_ms=section.max_latency_ms,
                min_speedup=section.min_speedup,
            )
        except NasSelectionError as error:
            if section.recover_top_k <= 1 or section.select == "most_accurate_under":
                raise
            chosen = max(self.points, key=lambda p: p.get("delta_low", p["dev_accuracy"]))
            self.confident = False
            print(
                f"prune (nas): {error} Recovering candidates anyway; the safe one is {chosen['arch']}.",
                flush=True,
            )
        paths = write_front(
            self.folder,
            self.points,
            self.teacher,
            batch_sizes=self.target.batch_sizes,
            batch_size=self.batch,
            selected=chosen["arch"],
        )
        for path in paths:
            if self.context.mlflow_run is not None:
                self.context.mlflow_run.log_artifact(path, ARTIFACTS)
        return chosen

    def write_candidates(self, chosen: dict[str, Any], out: Path) -> list[dict[str, Any]]:
        """The fastest `recover_top_k` points that could meet the budget, each sliced into
        out/candidates/<i>/ (a model directory), listed in out/candidates/candidates.json; recovered
        one by one (or side by side on a cluster), then select-student chooses."""
        section = self.section
        picks = recovery_candidates(
            self.points,
            chosen,
            self.teacher_accuracy,
            budget=self.budget,
            k=section.recover_top_k,
            batch_size=self.batch,
        )
        folder = out / CANDIDATES_DIR
        listed = []
        for i, point in enumerate(picks):
            save_model_dir(self.point_model(point["arch"]), self.tokenizer, folder / str(i))
            listed.append({"index": i, "dir": str(i), **point})
        payload = {
            "batch_size": self.batch,
            "budget": self.budget,
            "confidence": section.confidence,
            "selection_fraction": section.selection_fraction,
            "seed": self.context.seed,
            "teacher_selection_accuracy": self.teacher_accuracy,
            "selected": chosen["arch"],
            "candidates": listed,
        }
        (folder / CANDIDATES_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")
        return listed

    def point_model(self, arch: str) -> Any:
        """A front point as a model of its own: the zero-layer model, or a slice of the super-network."""
        if self.pooled is not None and arch == self.pooled.arch.key:
            return copy.deepcopy(self.pooled.model)
        return slice_subnetwork(copy.deepcopy(self.model).cpu(), SubNetwork.from_key(arch))

    def extras(self, chosen: dict[str, Any], arch: SubNetwork) -> dict[str, Any]:
        measured = {
            f"nas_selected_{k}": v
            for k, v in chosen.items()
            if k.startswith(("measured", "predicted", "speedup"))
        }
        return {
            "nas_selected": chosen["arch"],
            "nas_select": self.section.select,
            "nas_accuracy_budget": self.budget,
            "nas_teacher_dev_accuracy": self.teacher_accuracy,
            "nas_confidence": self.section.confidence,
            "nas_selection_confident": self.confident,
            "nas_search_rows": len(self.search_dev[0]),
            "nas_selection_rows": len(self.selection_dev[0]),
            **{
                f"nas_selected_{k}": chosen[k]
                for k in ("delta_vs_teacher", "delta_low", "delta_high")
                if k in chosen
            },
            "nas_kept_layers": arch.kept_layers,
            "dev_accuracy": chosen["dev_accuracy"],
            "nas_supernet_steps": self.history.steps,
            "nas_candidates": len(self.candidates),
            "nas_front_size": len(self.front),
            "nas_front_checked": len(self.points),
            "nas_latency_batch_size": self.batch,
            "nas_latency_runtime": self.target.runtime,
            **measured,
            **self.errors,
            **self.stages.seconds,
        }


class NasPruner:
    def wants_teacher_logits(self, config: PruneConfig) -> bool:
        return False  # the model it gets is the teacher: it computes them itself

    def prune(
        self, model: Any, tokenizer: Any, train: Split, dev: Split, context: PruneContext
    ) -> PruneReport:
        with tempfile.TemporaryDirectory(prefix="slimnlp-nas-") as tmp:
            root = context.out_dir if context.out_dir is not None else Path(tmp)
            (root / ARTIFACTS).mkdir(parents=True, exist_ok=True)
            run = _Run(model, tokenizer, train, dev, context, root / ARTIFACTS, Path(tmp))
            run.prepare()
            run.train_supernet()
            run.search_front()
            chosen = run.select()
            recovered = []
            if context.config.nas.recover_top_k > 1 and context.out_dir is not None:
                recovered = run.write_candidates(chosen, context.out_dir)
        arch = SubNetwork.from_key(chosen["arch"])
        if run.pooled is not None and arch == run.pooled.arch:
            become_pooled(model, run.pooled.model)
        else:
            slice_subnetwork(model, arch)
        extras = run.extras(chosen, arch) | {"nas_recovery_candidates": len(recovered)}
        return build_report("nas", model, run.before, run.order.kept_heads(arch), [], extras)
