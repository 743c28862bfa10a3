"""Block movement pruning (Lagunas et al., EMNLP 2021) inside slimnlp's own training loop.

    slimnlp prune --config configs/paper-grid.yaml --set prune.block_movement.block_size=32 ...

Every attention Linear (Q, K, V, O) carries learnable scores, one per block (`block_size: head`
shares one score per head between its Q/K/V rows and its O columns; an integer n gives n x n
blocks per matrix), and every FFN neuron one score shared by row i of the up-projection and column
i of the down-projection. The forward pass multiplies each weight by the top-k mask of its group's
scores (all attention blocks of all layers compete, as do all FFN neurons), so the kept fraction is
exact; the gradient reaches the scores straight through the binarisation. The kept fraction falls
from 1.0 to the target along a cubic between a warm-up and a cool-down; scores and weights learn at
separate rates, and the loss is slimnlp's `alpha * KD + (1 - alpha) * CE`.

After training (`finalize`), a head whose O columns are all masked contributes exactly nothing and
is removed, with its Q/K/V rows; masked FFN neurons are removed; masked blocks inside kept heads are
zeroed (or kept for a re-distillation: "hybrid-filled"); `removal.finalize` does that and reports
it as a `slimnlp.prune.PruneReport`. `pruner.py` runs it all as the registered `block_movement`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from slimnlp.models import ModelDirError, encoder_layers, head_dim, layer_modules

log = logging.getLogger(__name__)

ATTENTION, FFN = "attention", "ffn"


# --------------------------------------------------------------------------------------------------
# Scores and masks


@dataclass
class ScoreTensor:
    """One learnable score tensor: a group (attention/ffn), the layer it belongs to, its shape."""

    scores: nn.Parameter
    group: str
    layer: int


class BlockMask(nn.Module):
    """Parametrization `weight -> weight * mask`, the mask expanded from (rows x cols) block scores.

    The binary mask is the controller's top-k decision; adding `scores - scores.detach()` (zero in
    value) passes the gradient of the mask straight through to the scores.
    """

    def __init__(self, controller: MaskController, index: int, grid: tuple[int, int], block: tuple[int, int]):
        super().__init__()
        self.mask_scores = controller.tensors[index].scores
        self.index, self.grid, self.block = index, grid, block
        # A plain attribute, not a submodule: the controller is shared and holds no weights.
        object.__setattr__(self, "controller", controller)

    def expand(self, mask: torch.Tensor) -> torch.Tensor:
        return mask.view(self.grid).repeat_interleave(self.block[0], 0).repeat_interleave(self.block[1], 1)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        binary = self.controller.binary(self.index).to(weight.dtype)
        scores = self.mask_scores.to(weight.dtype)
        return weight * self.expand(binary + scores - scores.detach())


@dataclass
class MaskController:
    """All score tensors of a model, the kept fraction per group and the top-k masks they give."""

    tensors: list[ScoreTensor] = field(default_factory=list)
    kept: dict[str, float] = field(default_factory=lambda: {ATTENTION: 1.0, FFN: 1.0})
    # Units of a score tensor always kept whatever its rank (the per-layer floor): index -> count.
    floors: dict[int, int] = field(default_factory=dict)
    _cache_key: tuple | None = None
    _masks: list[torch.Tensor] = field(default_factory=list)

    def add(self, scores: nn.Parameter, group: str, layer: int) -> int:
        self.tensors.append(ScoreTensor(scores, group, layer))
        return len(self.tensors) - 1

    def binary(self, index: int) -> torch.Tensor:
        # Optimizer steps change the scores in place (their _version moves): recompute then only.
        key = (tuple(self.kept.items()), tuple(t.scores._version for t in self.tensors))
        if key != self._cache_key:
            self._masks = self._top_k()
            self._cache_key = key
        return self._masks[index]

    def kept_count(self, group: str) -> tuple[int, int]:
        """(units kept, units in all) for a group at the current kept fraction, floors included."""
        total = sum(t.scores.numel() for t in self.tensors if t.group == group)
        return max(round(self.kept[group] * total), self._floor_total(group)), total

    def _floor_total(self, group: str) -> int:
        return sum(n for i, n in self.floors.items() if self.tensors[i].group == group)

    def _top_k(self) -> list[torch.Tensor]:
        masks: list[torch.Tensor | None] = [None] * len(self.tensors)
        for group in (ATTENTION, FFN):
            members = [i for i, t in enumerate(self.tensors) if t.group == group]
            if not members:
                continue
            flat = torch.cat([self.tensors[i].scores.detach().flatten().float().cpu() for i in members])
            keep = torch.zeros_like(flat, dtype=torch.bool)
            offset = 0
            for i in members:  # the per-layer floors first: each layer's best units
                n = self.tensors[i].scores.numel()
                floor = min(self.floors.get(i, 0), n)
                if floor:
                    keep[offset + flat[offset : offset + n].topk(floor).indices] = True
                offset += n
            k, _ = self.kept_count(group)
            rest = k - int(keep.sum())
            if rest > 0:
                candidates = flat.masked_fill(keep, float("-inf"))
                keep[candidates.topk(rest).indices] = True
            offset = 0
            for i in members:
                scores = self.tensors[i].scores
                n = scores.numel()
                masks[i] = keep[offset : offset + n].view_as(scores).to(scores.device, torch.float32)
                offset += n
        return masks  # type: ignore[return-value]

    def density(self, group: str) -> float:
        """The fraction of the group's units (scores) the current masks keep."""
        members = [i for i, t in enumerate(self.tensors) if t.group == group]
        kept = sum(float(self.binary(i).sum()) for i in members)
        return kept / max(1, sum(self.tensors[i].scores.numel() for i in members))


# --------------------------------------------------------------------------------------------------
# The schedule


@dataclass(frozen=True)
class CubicSchedule:
    """Kept fraction 1.0 until `start`, then a cubic down to `final` at `end`, then `final`
    (Zhu & Gupta 2017, as used by movement pruning)."""

    final: float
    start: int
    end: int

    @classmethod
    def over(cls, total_steps: int, final: float, warmup_fraction: float, cooldown_fraction: float):
        start = int(round(total_steps * warmup_fraction))
        end = max(start + 1, int(round(total_steps * (1 - cooldown_fraction))))
        return cls(final=final, start=start, end=min(end, max(total_steps, start + 1)))

    def __call__(self, step: int) -> float:
        if step <= self.start:
            return 1.0
        if step >= self.end:
            return self.final
        progress = (step - self.start) / (self.end - self.start)
        return self.final + (1.0 - self.final) * (1.0 - progress) ** 3


# --------------------------------------------------------------------------------------------------
# Attaching masks to a model


def _register(linear: nn.Linear, controller: MaskController, index: int, grid, block) -> None:
    parametrize.register_parametrization(linear, "weight", BlockMask(controller, index, grid, block))


def _block_grid(linear: nn.Linear, size: int, where: str) -> tuple[tuple[int, int], tuple[int, int]]:
    rows, cols = linear.weight.shape
    if rows % size or cols % size:
        raise ModelDirError(
            f"prune.block_movement.block_size={size} does not divide {where} ({rows} x {cols}); pick a "
            "divisor of the hidden size and head size (e.g. 32 for BERT-base) or block_size: head"
        )
    return (rows // size, cols // size), (size, size)


def attach_masks(
    model: nn.Module, block_size: str = "head", min_heads_per_layer: int = 1, init: float = 0.0
) -> MaskController:
    """Give every attention and FFN Linear of the encoder masked weights and learnable scores.

    Args:
        model: A BERT-layout classifier (see `slimnlp.models.SUPPORTED_MODEL_TYPES`).
        block_size: "head" or an integer string n (n x n blocks).
        min_heads_per_layer: Heads every layer keeps whatever the scores say ("head" blocks; with
            n x n blocks the best O blocks of each layer are kept, which keeps at least one head).
        init: Initial score value (every unit ties at the start; the warm-up separates them).

    Returns:
        The controller; set `controller.kept[...]` to move the masks.

    Raises:
        ModelDirError: For a model type without a known attention layout (names the supported ones)
            or a block size that does not divide the weights.
    """
    layers = encoder_layers(model)  # raises, naming the supported types, for unknown layouts
    controller = MaskController()
    dim = head_dim(model)
    device = next(model.parameters()).device
    for number, layer in enumerate(layers):
        m = layer_modules(layer)
        heads = m.query.out_features // dim
        if block_size == "head":
            scores = nn.Parameter(torch.full((heads,), init, device=device))
            index = controller.add(scores, ATTENTION, number)
            for linear in (m.query, m.key, m.value):
                _register(linear, controller, index, (heads, 1), (dim, linear.in_features))
            _register(m.attn_out, controller, index, (1, heads), (m.attn_out.out_features, dim))
            controller.floors[index] = min(min_heads_per_layer, heads)
        else:
            size = int(block_size)
            for name, linear in (
                ("query", m.query),
                ("key", m.key),
                ("value", m.value),
                ("output", m.attn_out),
            ):
                grid, block = _block_grid(linear, size, f"layer {number} attention {name}")
                scores = nn.Parameter(torch.full(grid, init, device=device))
                index = controller.add(scores, ATTENTION, number)
                _register(linear, controller, index, grid, block)
                if name == "output":
                    controller.floors[index] = min(min_heads_per_layer, scores.numel())
        neurons = m.ffn_in.out_features
        scores = nn.Parameter(torch.full((neurons,), init, device=device))
        index = controller.add(scores, FFN, number)
        _register(m.ffn_in, controller, index, (neurons, 1), (1, m.ffn_in.in_features))
        _register(m.ffn_out, controller, index, (1, neurons), (m.ffn_out.out_features, 1))
        controller.floors[index] = 1
    return controller


def masked_linears(model: nn.Module) -> list[tuple[nn.Module, BlockMask]]:
    """Every (Linear, its BlockMask) of the model."""
    found = []
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            for p in module.parametrizations.weight:
                if isinstance(p, BlockMask):
                    found.append((module, p))
    return found


def schedule_steps(
    num_texts: int,
    batch_size: int,
    epochs: int,
    warmup_fraction: float,
    cooldown_fraction: float,
    final: float,
) -> tuple[CubicSchedule, int, int]:
    """The schedule over the loop's steps, the total steps and the first epoch at the target."""
    steps_per_epoch = math.ceil(num_texts / batch_size)
    total = max(1, steps_per_epoch * epochs)
    schedule = CubicSchedule.over(total, final, warmup_fraction, cooldown_fraction)
    # on_step(step) runs before step `step`: an epoch trains at the target only if its last step
    # index (epoch * steps_per_epoch - 1) is at or past the schedule's end.
    first_epoch_at_target = min(epochs, max(1, math.ceil((schedule.end + 1) / steps_per_epoch)))
    return schedule, total, first_epoch_at_target
