"""Calibrated one-shot pruners' sections and records (prune.magnitude, prune.wanda, prune.sparsegpt,
prune.structured_oneshot) and the calibration texts they share (prune.calibration). Torch-free.

    prune:
      method: wanda
      target_sparsity: 0.5              # unstructured: exactly this fraction of every weight row
      wanda: {pattern: "2:4"}           # or N:M: N weights kept in every group of M (sparsity (M-N)/M)
      calibration: {sources: [train, ../shared/data/corpus/marathi.txt], samples: 128}
"""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help, _require
from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig

PATTERN_HELP = (
    "Sparsity pattern: 'unstructured' (prune.target_sparsity of every output row, exactly) or 'N:M' "
    "such as '2:4' or '4:8' (N weights kept in every group of M consecutive inputs; the sparsity is "
    "then (M-N)/M and prune.target_sparsity is ignored)."
)


def parse_pattern(pattern: str) -> tuple[int, int] | None:
    """(N, M) of an 'N:M' pattern, None for 'unstructured'; ValueError for anything else."""
    if pattern == "unstructured":
        return None
    parts = pattern.split(":")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        kept, group = int(parts[0]), int(parts[1])
        if 0 < kept < group:
            return kept, group
    raise ValueError(f"must be 'unstructured' or 'N:M' with 0 < N < M (e.g. '2:4'), got {pattern!r}")


@dataclass(frozen=True)
class CalibrationConfig(Section):
    sources: list[str] = _help(
        "Where calibration texts come from, one or more of: 'train' (the task's training split, labels "
        "unused), a .txt file (one sentence a line), a .csv file (column text_column), a directory of "
        "them, an s3:// URI. Several sources share the samples equally (a mix).",
        factory=lambda: ["train"],
        min_items=1,
        pattern=r"[\s\S]*\S[\s\S]*",
        means="'train', a file, a directory or an s3:// URI (not empty)",
    )
    samples: int = _help("Calibration texts in all (drawn at random with the run's seed).", 128, ge=1)
    max_length: int | None = _help(
        "Tokens per calibration text; null = the model's tokenizer length.", None, ge=2
    )
    text_column: str = _help("The text column of .csv calibration files.", "text")
    batch_size: int = _help("Texts per forward pass while collecting activations.", 32, ge=1)
    max_unknown: float = _help(
        "Fail when the tokenizer maps more than this share of the calibration tokens to [UNK] (a text "
        "the model cannot read calibrates nothing).",
        0.3,
        gt=0,
        le=1,
    )


class UnstructuredSection(PruneMethodConfig):
    """What magnitude, wanda and sparsegpt share: the pattern, and a sparsity check that knows it."""

    pattern: str

    @property
    def n_m(self) -> tuple[int, int] | None:
        return parse_pattern(self.pattern)

    def check(self) -> None:
        try:
            parse_pattern(self.pattern)
        except ValueError as err:
            _require(False, "pattern", str(err))

    def check_sparsity(self, name: str, value: float) -> None:
        if self.n_m is None:  # with N:M the pattern fixes the sparsity
            _require(0 < value < 1, name, f"must be in (0, 1), got {value}")


@dataclass(frozen=True)
class MagnitudeConfig(UnstructuredSection):
    pattern: str = _help(PATTERN_HELP, "unstructured")


@dataclass(frozen=True)
class WandaConfig(UnstructuredSection):
    pattern: str = _help(PATTERN_HELP, "unstructured")


@dataclass(frozen=True)
class SparseGPTConfig(UnstructuredSection):
    pattern: str = _help(PATTERN_HELP, "unstructured")
    damping: float = _help("Damping added to the Hessian's diagonal, as a fraction of its mean.", 0.01, gt=0)
    block_size: int = _help("Columns pruned and compensated together (lazy batch updates).", 128, ge=1)


@dataclass(frozen=True)
class StructuredOneShotConfig(PruneMethodConfig):
    budget: str = _help(
        "What prune.target_sparsity counts: 'flops' (that fraction of the encoder's FLOPs removed, heads "
        "and neurons ranked together by score per FLOP) or 'units' (that fraction of heads and of FFN "
        "neurons, as prune.head_sparsity / ffn_sparsity).",
        "flops",
        choices=("flops", "units"),
    )
    score: str = _help(
        "Unit scores: 'fisher' (squared per-text gradients of head/neuron masks on the model's own "
        "predictions; no labels) or 'activation' (variance of the unit's output over calibration tokens "
        "x squared norm of its output weights, FLAP).",
        "fisher",
        choices=("fisher", "activation"),
    )
    reconstruct: bool = _help(
        "Refit the attention output and FFN output projections of each layer by least squares so that "
        "the pruned layer reproduces the unpruned one on the calibration tokens (bias included).",
        True,
    )
    damping: float = _help("Ridge term of the least squares, as a fraction of the mean diagonal.", 0.01, gt=0)
    sequence_length: int = _help("Tokens per text assumed when counting FLOPs.", 48, ge=1)


# --------------------------------------------------------------------------------------------------
# The methods

MAGNITUDE = PruneMethod(
    name="magnitude",
    config=MagnitudeConfig,
    pruner="slimnlp.prune.oneshot.unstructured:MagnitudePruner",
    summary=(
        "one-shot unstructured or N:M pruning of the smallest |W| in every output row (the baseline; "
        "no calibration)"
    ),
    keeps_zeros=True,
)
WANDA = PruneMethod(
    name="wanda",
    config=WandaConfig,
    pruner="slimnlp.prune.oneshot.unstructured:WandaPruner",
    summary=(
        "one-shot pruning of the lowest |W| x ||X|| in every output row, X the calibration inputs of each "
        "layer (Sun et al. 2023), layers in order"
    ),
    calibrates=True,
    keeps_zeros=True,
)
SPARSEGPT = PruneMethod(
    name="sparsegpt",
    config=SparseGPTConfig,
    pruner="slimnlp.prune.oneshot.unstructured:SparseGPTPruner",
    summary=(
        "one-shot pruning with reconstruction of the kept weights from the calibration Hessian X^T X "
        "(Frantar and Alistarh 2023), layers in order"
    ),
    calibrates=True,
    keeps_zeros=True,
)
STRUCTURED_ONESHOT = PruneMethod(
    name="structured_oneshot",
    config=StructuredOneShotConfig,
    pruner="slimnlp.prune.oneshot.structured:StructuredOneShotPruner",
    summary=(
        "one-shot removal of heads and FFN neurons scored on calibration activations (Fisher, Kwon et al. "
        "2022, or activation fluctuation, FLAP) under a FLOPs target, then least-squares reconstruction of "
        "each layer's output projections on the calibration set"
    ),
    calibrates=True,
)
