"""prune.nas: structural pruning by neural architecture search: its section and its record (torch-free).

    prune:
      method: nas
      nas: {space: large, steps: 600, candidates: 300, select: fastest_within}

Klein et al. (TMLR 2024): heads and FFN units ordered by importance, a weight-sharing super-network
trained with the sandwich rule, a multi-objective search of dev accuracy vs latency predicted by a
table measured in the target runtime, a Pareto front, then one front point chosen by a budget and
sliced. `prune.target_sparsity` is not used: the budget (`select` and its target) decides the size.
"""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help, _override, _require
from slimnlp.config.training import OptimizerSection
from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig

# The paper's search spaces (Klein et al. 2024, section 4), on importance-ordered units.
SPACES = {
    "small": "one head count and one FFN width for every layer, all layers kept",
    "medium": "a head count and an FFN width per layer, all layers kept",
    "layer": "each layer kept whole or dropped",
    "large": "a head count and an FFN width per layer, and each layer kept or dropped",
}
SELECTION_RULES = ("fastest_within", "most_accurate_under", "smallest_within")
LATENCY_RUNTIMES = ("onnx-int8", "onnx", "pytorch")
SEARCHERS = ("nsga2", "random")
POOLED_INITS = ("teacher-output", "embeddings")


@dataclass(frozen=True)
class NasConfig(PruneMethodConfig, OptimizerSection):
    """The optimiser fields (`OptimizerSection`) drive the super-network; the rest is the search."""

    # -- the search space
    space: str = _help(
        "Search space preset: " + "; ".join(f"{k}: {v}" for k, v in SPACES.items()),
        "large",
        choices=tuple(SPACES),
    )
    ffn_step: int = _help(
        "FFN widths are multiples of this (GEMM-friendly); the teacher's width is always a choice.", 64, ge=1
    )
    min_ffn_units: int | None = _help("Fewest FFN units a kept layer may have; null = ffn_step.", None, ge=1)
    min_heads: int | None = _help(
        "Fewest heads a kept layer may have; null = prune.min_heads_per_layer.", None, ge=1
    )
    min_layers: int = _help("Fewest layers a sub-network keeps (spaces layer and large).", 1, ge=1)
    importance_batches: int = _help("Training batches of the Taylor importance that orders units.", 16, ge=1)
    pooled_point: bool = _help(
        "Spaces layer and large: also put the zero-layer point on the front, mean-pooled token embeddings "
        "+ the classification head (what attention-free classifiers such as Model2Vec compute), distilled "
        "from the teacher apart from the super-network (slimnlp.prune.nas.pooled).",
        True,
    )
    pooled_init: str = _help(
        "The zero-layer point's token vectors at the start: teacher-output (the teacher's output for each "
        "vocabulary token alone, as Model2Vec distils) or embeddings (the teacher's input embeddings).",
        "teacher-output",
        choices=POOLED_INITS,
    )
    pooled_epochs: int = _help(
        "Training epochs of the zero-layer point (KD from the teacher's logits; the best epoch on the "
        "search rows is kept); 0 = its initial weights.",
        4,
        ge=0,
    )
    pooled_learning_rate: float = _help("AdamW learning rate of the zero-layer point.", 2e-3, gt=0)

    # -- the super-network (sandwich rule + in-place distillation)
    steps: int = _help("Super-network training steps (the time budget may end it first).", 600, ge=0)
    max_minutes: float = _help(
        "Wall-time budget of super-network training, minutes; 0 = no limit.", 15.0, ge=0
    )
    batch_size: int = _override(OptimizerSection, "batch_size", 32, "Texts per super-network step.")
    learning_rate: float = _override(OptimizerSection, "learning_rate", 1e-4)
    random_subnets: int = _help(
        "Random sub-networks per step besides the largest and the smallest (the sandwich rule).", 2, ge=0
    )
    distill_from: str = _help(
        "In-place distillation source of the sampled sub-networks: 'largest' (the full sub-network's "
        "logits in the same step) or 'teacher' (the fine-tuned teacher's logits).",
        "largest",
        choices=("largest", "teacher"),
    )
    alpha: float = _help("Loss of a sub-network = alpha * KD + (1 - alpha) * CE.", 0.9, ge=0, le=1)
    temperature: float = _help("KD temperature.", 2.0, gt=0)
    eval_every: int = _help("Steps between dev evaluations of the largest and smallest (MLflow).", 100, ge=1)

    # -- the latency model
    latency_runtime: str = _help(
        f"Runtime the latency table is measured in, one of {LATENCY_RUNTIMES} (the benchmark's threads "
        "and sequence length).",
        "onnx-int8",
        choices=LATENCY_RUNTIMES,
    )
    latency_batch_size: int | None = _help(
        "Batch size whose latency the search minimises; null = the largest of benchmark.batch_sizes.",
        None,
        ge=1,
    )
    latency_unit_probes: int = _help(
        "FFN widths below the teacher's that get a probe model (evenly spread, the narrowest included); "
        "the widths between are interpolated (an FFN's cost is linear in its width).",
        4,
        ge=1,
    )
    latency_rounds: int = _help("Interleaved timing rounds of the latency table and front checks.", 3, ge=1)
    latency_iterations: int = _help("Timed calls per round.", 10, ge=1)

    # -- the search and the front
    searcher: str = _help(
        f"Multi-objective search, one of {SEARCHERS} (optuna samplers).", "nsga2", choices=SEARCHERS
    )
    candidates: int = _help("Sub-networks the search evaluates (dev accuracy, shared weights).", 300, ge=1)
    population: int = _help("NSGA-II population size.", 40, ge=1)
    search_dev_rows: int | None = _help(
        "Score candidates on this many dev texts (front points are re-scored on all); null = all.", None, ge=1
    )
    front_checks: int = _help(
        "Front points measured end to end (sliced, exported, timed); evenly spread over latency.", 12, ge=1
    )

    save_supernet: bool = _help(
        "Save the trained super-network under prune_artifacts/supernet, so that any front point can be "
        "sliced into a model directory later (slimnlp.prune.nas.artifacts.slice_front_point).",
        True,
    )

    # -- selection
    select: str = _help(
        "How the sub-network is chosen from the front: fastest_within (max_accuracy_drop), "
        "most_accurate_under (max_latency_ms or min_speedup), smallest_within (max_accuracy_drop).",
        "fastest_within",
        choices=SELECTION_RULES,
    )
    max_accuracy_drop: float | None = _help(
        "Dev accuracy the student may lose against the teacher (0.01 = 1 point); null = "
        "registry.max_drop_vs_teacher, the budget the promotion gate uses.",
        None,
        ge=0,
        le=1,
    )
    confidence: float = _help(
        "fastest_within / smallest_within: a point is within max_accuracy_drop when the lower bound of its "
        "paired accuracy difference to the teacher on the selection rows clears it, at this one-sided "
        "confidence (slimnlp.benchmark.paired; 0.5 < confidence < 1).",
        0.9,
        gt=0.5,
        lt=1,
    )
    selection_fraction: float = _help(
        "Share of dev that only selects (front points, recovered candidates); the rest scores the search "
        "and stops training early. 0 = all of dev does everything (the old behaviour).",
        0.5,
        ge=0,
        lt=1,
    )
    recover_top_k: int = _help(
        "The fastest front points that could meet the budget (upper bound clears it) recovered by distill "
        "and finetune-amp before the student is chosen (the confident pick always among them); 1 = the "
        "selected point only.",
        3,
        ge=1,
    )
    max_latency_ms: float | None = _help(
        "most_accurate_under: latency target (ms per call at latency_batch_size, measured).", None, gt=0
    )
    min_speedup: float | None = _help(
        "most_accurate_under: speed-up target against the teacher at latency_batch_size (measured).",
        None,
        gt=0,
    )

    def check_sparsity(self, name: str, value: float) -> None:
        """The budget decides the size; the shared sparsity fields are not used by nas."""
        _require(0 <= value < 1, name, f"must be in [0, 1), got {value} (prune.nas does not use it)")

    def check(self) -> None:
        if self.select == "most_accurate_under":
            targets = [n for n in ("max_latency_ms", "min_speedup") if getattr(self, n) is not None]
            _require(
                len(targets) == 1,
                "select",
                "most_accurate_under needs exactly one target: set prune.nas.max_latency_ms or "
                f"prune.nas.min_speedup (got {targets or 'neither'})",
            )


METHOD = PruneMethod(
    name="nas",
    config=NasConfig,
    pruner="slimnlp.prune.nas.pruner:NasPruner",
    summary=(
        "weight-sharing super-network of importance-ordered heads, FFN units and layers, a multi-objective "
        "search of accuracy vs measured latency (Pareto front), then the selected sub-network sliced"
    ),
    trains=False,  # its own sandwich loop, not the one loop
    uses_target_sparsity=False,  # a budget selects a front point
    # latency_target: the benchmark's threads, batch sizes and sequence length, the export settings;
    # accuracy_budget: registry.max_drop_vs_teacher when prune.nas.max_accuracy_drop is null.
    reads=("benchmark", "export", "registry"),
)
