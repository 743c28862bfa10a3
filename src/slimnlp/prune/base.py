"""What every pruning method's code is: a `Pruner`, run in a `PruneContext`, giving a `PruneReport`.

    class ImportancePruner:
        def wants_teacher_logits(self, config): return False
        def prune(self, model, tokenizer, train, dev, context) -> PruneReport: ...

    report = get_pruner(cfg.prune.method).prune(model, tokenizer, train, dev, context)

A pruner is named by its method's record (`PruneMethod.pruner`, `slimnlp.prune.descriptor`), which
also says whether it trains, calibrates or keeps zeros; the pruner holds behaviour only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from slimnlp.config import PruneConfig
    from slimnlp.training.loop import LoopSettings

Split = tuple[list[str], list[int]]  # (texts, labels)


@dataclass
class PruneContext:
    """Everything a pruner gets besides the model and the data.

    Attributes:
        config: The prune section: shared fields, and `config.section`, the method's own.
        max_length: Tokens per text (the teacher's tokenizer length).
        seed: The run's seed.
        loop: Settings of the one training loop built from the method's section, for a method that
            trains (`PruneMethod.trains`); None otherwise.
        teacher_logits: The teacher's logits on the training texts (same order), when the pruner
            asked for them (`wants_teacher_logits`); None otherwise.
        on_epoch: Called with (epoch, record) after each training epoch (MLflow logging).
        device: Where to run; None = CUDA when available.
        progress: Show progress bars and per-epoch lines.
        run: The whole run config, for a method that reads other sections (nas: the benchmark's
            runtime and the registry's accuracy budget; one-shot: storage for s3:// calibration
            texts); None in unit tests that build a context by hand.
        out_dir: The step's output folder, where a method may write files of its own beside the model
            (a latency table, a Pareto front, a calibration report) under `out_dir/prune_artifacts/`
            (logged to MLflow by the step); None = write nothing.
        mlflow_run: The step's MLflow run (log_metric/log_artifact), or None.
    """

    config: PruneConfig
    max_length: int
    seed: int
    loop: LoopSettings | None = None
    teacher_logits: torch.Tensor | None = None
    on_epoch: Callable[[int, dict[str, float]], None] | None = None
    device: str | None = None
    progress: bool = True
    run: Any = None
    out_dir: Path | None = None
    mlflow_run: Any = None


@dataclass
class PruneReport:
    """One report shape for every method: what the model had, what it has now, and the method's own
    numbers in `extras`. `metrics()` flattens it into the keys the prune step writes to metrics.json."""

    method: str
    heads_per_layer_before: list[int]
    heads_per_layer_after: list[int]
    neurons_per_layer_before: list[int]
    neurons_per_layer_after: list[int]
    kept_heads: list[list[int]]
    layers_clamped_to_min_heads: list[int]
    params_before: dict[str, int]  # count_parameters(): total, embeddings, non_embedding
    params_after: dict[str, int]
    # Removed weights over the prunable encoder weights (Q/K/V/O, FFN): what makes it faster.
    structural_sparsity: float
    # Removed or zeroed: what a sparse kernel or a compressor could exploit on top.
    weight_sparsity: float
    layout: dict[str, Any]  # slimnlp.models.model_layout of the pruned model
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def heads_removed(self) -> int:
        return sum(self.heads_per_layer_before) - sum(self.heads_per_layer_after)

    @property
    def neurons_removed(self) -> int:
        return sum(self.neurons_per_layer_before) - sum(self.neurons_per_layer_after)

    @property
    def head_sparsity(self) -> float:
        return 1 - sum(self.heads_per_layer_after) / sum(self.heads_per_layer_before)

    @property
    def ffn_sparsity(self) -> float:
        return 1 - sum(self.neurons_per_layer_after) / sum(self.neurons_per_layer_before)

    def metrics(self) -> dict[str, Any]:
        """The flat metrics of the prune step (extras last: a method may add, never rename)."""
        before, after = self.params_before, self.params_after
        return {
            "method": self.method,
            "kept_heads": self.kept_heads,
            "heads_per_layer_before": self.heads_per_layer_before,
            "heads_per_layer_after": self.heads_per_layer_after,
            "neurons_per_layer_before": self.neurons_per_layer_before,
            "neurons_per_layer_after": self.neurons_per_layer_after,
            "heads_removed": self.heads_removed,
            "neurons_removed": self.neurons_removed,
            "head_sparsity": self.head_sparsity,
            "ffn_sparsity": self.ffn_sparsity,
            "layers_clamped_to_min_heads": self.layers_clamped_to_min_heads,
            "structural_sparsity": self.structural_sparsity,
            "weight_sparsity": self.weight_sparsity,
            "params_before": before["total"],
            "params_after": after["total"],
            "non_embedding_params_before": before["non_embedding"],
            "non_embedding_params_after": after["non_embedding"],
            "encoder_param_sparsity": 1 - after["non_embedding"] / before["non_embedding"],
            **self.extras,
        }

    def summary(self) -> str:
        """One line for the step's log."""
        line = (
            f"heads per layer {self.heads_per_layer_before} -> {self.heads_per_layer_after}, FFN "
            f"{self.neurons_per_layer_before} -> {self.neurons_per_layer_after}, parameters "
            f"{self.params_before['total']:,} -> {self.params_after['total']:,}; structural sparsity "
            f"{self.structural_sparsity:.1%}, weight sparsity {self.weight_sparsity:.1%}"
        )
        if self.layers_clamped_to_min_heads:
            line += (
                f"; layers {self.layers_clamped_to_min_heads} keep prune.min_heads_per_layer head(s) "
                "although the target would remove more there"
            )
        return line


class Pruner(Protocol):
    """A pruning method's code. It prunes `model` in place (physically: the saved directory is smaller,
    or, for a method that keeps zeros, the weights are zeroed)."""

    def wants_teacher_logits(self, config: PruneConfig) -> bool:
        """Whether the step should compute the teacher's logits on the training texts (KD)."""
        ...

    def prune(
        self, model: Any, tokenizer: Any, train: Split, dev: Split, context: PruneContext
    ) -> PruneReport:
        """Prune `model` in place and report what was removed."""
        ...
