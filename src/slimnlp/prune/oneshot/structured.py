"""Structured one-shot pruning: remove heads and FFN neurons, then refit what is left by least squares.

    slimnlp prune --config C --set prune.method=structured_oneshot --set prune.target_sparsity=0.25 ...

1. Score every head and neuron on the calibration texts (Fisher or activation fluctuation).
2. Choose: with budget 'flops', units go lowest score per FLOP first until target_sparsity of the
   encoder's FLOPs is gone (never below min_heads_per_layer heads, one neuron); with 'units', the
   same global ranking as importance pruning (head_sparsity / ffn_sparsity of each kind).
3. Remove them physically (sliced Linear layers: the model is smaller and faster on CPU).
4. Layer by layer, in order, refit the attention output and FFN output projections (weights and bias)
   by ridge least squares, so that on the calibration tokens each reproduces what the unpruned layer
   produced, from the inputs the pruned model now gives it (Kwon et al. 2022; FLAP's bias
   compensation is the refitted bias).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from slimnlp.config import PruneConfig
from slimnlp.models import encoder_layers, head_dim, layer_modules
from slimnlp.prune.base import PruneContext, PruneReport, Split
from slimnlp.prune.oneshot.calibration import Calibration
from slimnlp.prune.oneshot.capture import capture_rows
from slimnlp.prune.oneshot.common import calibrate, finish
from slimnlp.prune.oneshot.config import StructuredOneShotConfig
from slimnlp.prune.oneshot.unit_scores import fisher_scores, fluctuation_scores
from slimnlp.prune.removal import build_report, choose_removals, measure, remove_units


def unit_flops(model: nn.Module, sequence_length: int) -> tuple[float, float]:
    """(FLOPs of one head, FLOPs of one FFN neuron) for one sequence of `sequence_length` tokens."""
    hidden, dim, length = model.config.hidden_size, head_dim(model), sequence_length
    head = 2 * length * hidden * dim * 4 + 2 * length * length * dim * 2  # Q, K, V, O; scores, sum
    return float(head), float(2 * length * hidden * 2)


def choose_by_flops(
    heads: list[torch.Tensor],
    neurons: list[torch.Tensor],
    costs: tuple[float, float],
    fraction: float,
    min_heads: int,
) -> tuple[list[list[int]], list[list[int]], list[int], float]:
    """(kept heads, kept neurons, layers held at min_heads, FLOPs fraction removed): remove units
    in order of score per FLOP until `fraction` of the encoder's head and neuron FLOPs is gone
    (overshooting by less than one neuron's FLOPs)."""
    units = [(float(s) / costs[0], 0, layer, i) for layer, h in enumerate(heads) for i, s in enumerate(h)]
    units += [(float(s) / costs[1], 1, layer, i) for layer, n in enumerate(neurons) for i, s in enumerate(n)]
    total = costs[0] * sum(len(h) for h in heads) + costs[1] * sum(len(n) for n in neurons)
    kept = [[set(range(len(h))) for h in heads], [set(range(len(n))) for n in neurons]]
    floors = (min_heads, 1)
    removed, clamped, target = 0.0, set(), fraction * total
    for _, kind, layer, index in sorted(units):
        if removed >= target:
            break
        if removed + costs[kind] > target + costs[1]:
            continue  # a head would overshoot the target: cheaper neurons close the gap
        if len(kept[kind][layer]) <= floors[kind]:
            if kind == 0:
                clamped.add(layer)
            continue
        kept[kind][layer].discard(index)
        removed += costs[kind]
    return [sorted(k) for k in kept[0]], [sorted(k) for k in kept[1]], sorted(clamped), removed / total


def least_squares(
    inputs: torch.Tensor, targets: torch.Tensor, damping: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) minimising ||inputs W^T + b - targets||^2 + ridge, the bias unpenalised."""
    x = torch.cat([inputs.double(), torch.ones(inputs.shape[0], 1, dtype=torch.float64)], dim=1)
    gram = x.T @ x
    ridge = damping * torch.diag(gram)[:-1].mean().clamp_min(1e-12)
    gram[:-1, :-1] += ridge * torch.eye(inputs.shape[1], dtype=torch.float64)
    solution = torch.linalg.solve(gram, x.T @ targets.double())
    return solution[:-1].T.contiguous(), solution[-1].contiguous()


def _relative_error(linear: nn.Linear, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.no_grad():
        out = inputs.to(linear.weight.dtype) @ linear.weight.detach().cpu().T + linear.bias.detach().cpu()
    return float(
        (out.double() - targets.double()).pow(2).sum() / targets.double().pow(2).sum().clamp_min(1e-12)
    )


def reconstruct(
    model: nn.Module, calibration: Calibration, targets: dict[str, torch.Tensor], damping: float
) -> dict[str, list[float]]:
    """Refit each layer's attention output and FFN output projections in order (see the module doc);
    returns the relative output error of each before and after its refit."""
    errors: dict[str, list[float]] = {"before": [], "after": []}
    for index, layer in enumerate(encoder_layers(model)):
        for kind in ("attn_out", "ffn_out"):
            linear = getattr(layer_modules(layer), kind)
            name = f"{kind}{index}"
            inputs = capture_rows(model, {name: linear}, calibration.batches, "input")[name]
            errors["before"].append(_relative_error(linear, inputs, targets[name]))
            weight, bias = least_squares(inputs, targets[name], damping)
            with torch.no_grad():
                linear.weight.copy_(weight.to(linear.weight.dtype))
                linear.bias.copy_(bias.to(linear.bias.dtype))
            errors["after"].append(_relative_error(linear, inputs, targets[name]))
    return errors


def _dense_targets(model: nn.Module, calibration: Calibration) -> dict[str, torch.Tensor]:
    modules = {}
    for index, layer in enumerate(encoder_layers(model)):
        m = layer_modules(layer)
        modules |= {f"attn_out{index}": m.attn_out, f"ffn_out{index}": m.ffn_out}
    return capture_rows(model, modules, calibration.batches, "output")


class StructuredOneShotPruner:
    def wants_teacher_logits(self, config: PruneConfig) -> bool:
        return False

    def prune(
        self, model: Any, tokenizer: Any, train: Split, dev: Split, context: PruneContext
    ) -> PruneReport:
        started = time.perf_counter()
        config = context.config
        section: StructuredOneShotConfig = config.structured_oneshot
        before = measure(model)
        calibration = calibrate(model, tokenizer, train[0], context)
        score = fisher_scores if section.score == "fisher" else fluctuation_scores
        heads, neurons = score(model, calibration.batches)
        costs = unit_flops(model, section.sequence_length)
        if section.budget == "flops":
            kept_heads, kept_neurons, clamped, flops_removed = choose_by_flops(
                heads, neurons, costs, config.target_sparsity, config.min_heads_per_layer
            )
        else:
            kept_heads, clamped = choose_removals(heads, config.head_fraction, config.min_heads_per_layer)
            kept_neurons, _ = choose_removals(neurons, config.ffn_fraction, 1)
            total = costs[0] * sum(before.heads_per_layer) + costs[1] * sum(before.neurons_per_layer)
            left = costs[0] * sum(map(len, kept_heads)) + costs[1] * sum(map(len, kept_neurons))
            flops_removed = 1 - left / total
        targets = _dense_targets(model, calibration) if section.reconstruct else {}
        remove_units(model, kept_heads, kept_neurons)
        errors = reconstruct(model, calibration, targets, section.damping) if section.reconstruct else {}
        extras = {
            "budget": section.budget,
            "score": section.score,
            "flops_reduction": flops_removed,
            "reconstructed": section.reconstruct,
        }
        if errors:
            extras["output_error_before_refit"] = sum(errors["before"]) / len(errors["before"])
            extras["output_error_after_refit"] = sum(errors["after"]) / len(errors["after"])
        report = build_report("structured_oneshot", model, before, kept_heads, clamped, extras)
        details = {"refit_errors": errors, "head_scores": [h.tolist() for h in heads]}
        return finish(report, context, time.perf_counter() - started, calibration, details)
