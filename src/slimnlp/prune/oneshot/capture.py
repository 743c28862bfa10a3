"""Activation capture on calibration batches, padding excluded from every statistic.

    stats = input_statistics(model, {"query": m.query}, calibration.batches, hessian=True)
    stats["query"].hessian, stats["query"].column_norms, stats["query"].tokens

Forward hooks see each Linear's input and output; only the rows of real tokens (attention mask 1)
are kept, so a text padded to 10 or to 100 tokens gives the same statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

RowsCallback = Callable[[str, torch.Tensor, torch.Tensor], None]  # (name, input rows, output rows)


@contextmanager
def hooked_eval(model: nn.Module, handles: list) -> Iterator[torch.device]:
    """The model in eval mode with its hooks registered (`handles`); yields its device. On exit the
    hooks are removed and the model's training mode restored, whatever happened inside."""
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters()).device
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


@torch.no_grad()
def run_real_tokens(
    model: nn.Module,
    batches: list[dict[str, torch.Tensor]],
    modules: dict[str, nn.Module],
    on_rows: RowsCallback,
) -> None:
    """Run every batch through `model`; for each named module call `on_rows(name, inputs, outputs)`
    with its input and output restricted to real tokens ((tokens, features) each)."""
    state: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(_module, args, output):
            keep = state["mask"]
            on_rows(name, args[0][keep].float(), output[keep].float())

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    with hooked_eval(model, handles) as device:
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            state["mask"] = batch["attention_mask"].bool()
            model(**batch)


@dataclass
class InputStatistics:
    """What one Linear saw on the calibration tokens: sum of x x^T (when asked), sum of x^2, count."""

    squares: torch.Tensor  # (in_features,) float64
    hessian: torch.Tensor | None  # (in_features, in_features) float64, X^T X
    tokens: int = 0

    @property
    def column_norms(self) -> torch.Tensor:
        """||X_j||_2 per input feature j over all calibration tokens (Wanda's activation norm)."""
        return self.squares.sqrt()


def input_statistics(
    model: nn.Module, linears: dict[str, nn.Linear], batches: list[dict[str, torch.Tensor]], hessian: bool
) -> dict[str, InputStatistics]:
    """Per named Linear: statistics of its inputs over the real tokens of `batches`."""
    stats = {
        name: InputStatistics(
            squares=torch.zeros(linear.in_features, dtype=torch.float64),
            hessian=torch.zeros(linear.in_features, linear.in_features, dtype=torch.float64)
            if hessian
            else None,
        )
        for name, linear in linears.items()
    }

    def accumulate(name: str, inputs: torch.Tensor, _outputs: torch.Tensor) -> None:
        rows = inputs.double().cpu()
        entry = stats[name]
        entry.squares += (rows * rows).sum(0)
        if entry.hessian is not None:
            entry.hessian += rows.T @ rows
        entry.tokens += rows.shape[0]

    run_real_tokens(model, batches, linears, accumulate)
    return stats


def capture_rows(
    model: nn.Module, modules: dict[str, nn.Module], batches: list[dict[str, torch.Tensor]], what: str
) -> dict[str, torch.Tensor]:
    """Per named module, its real-token inputs (`what='input'`) or outputs (`'output'`), stacked."""
    rows: dict[str, list[torch.Tensor]] = {name: [] for name in modules}

    def keep(name: str, inputs: torch.Tensor, outputs: torch.Tensor) -> None:
        rows[name].append((inputs if what == "input" else outputs).cpu())

    run_real_tokens(model, batches, modules, keep)
    return {name: torch.cat(parts) for name, parts in rows.items()}
