"""Which weights of one Linear to zero, and SparseGPT's update of the ones kept. Pure tensor code.

    mask = row_mask(scores, 0.5)                # exactly round(0.5 * in_features) pruned in every row
    mask = n_m_mask(scores, 2, 4)               # 2 kept in every group of 4 consecutive inputs
    weight, mask = sparsegpt(weight, hessian, 0.5, None, damping=0.01, block_size=128)

A mask is True where a weight is pruned. Scores: magnitude |W|, Wanda |W| * ||X_j||; SparseGPT
picks its own (w^2 / [H^-1]_jj^2, re-evaluated as the kept weights are updated).
"""

from __future__ import annotations

import torch


class PatternError(ValueError):
    """A layer cannot hold the requested N:M pattern; the message names the layer."""


def pruned_per_row(in_features: int, sparsity: float) -> int:
    """Weights pruned in each row of a layer with `in_features` inputs (the same in every row)."""
    return int(round(sparsity * in_features))


def row_mask(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Prune the `round(sparsity * in)` lowest scores of every output row."""
    k = pruned_per_row(scores.shape[1], sparsity)
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if k:
        mask.scatter_(1, torch.topk(scores, k, dim=1, largest=False).indices, True)
    return mask


def check_n_m(in_features: int, group: int, name: str) -> None:
    if in_features % group:
        raise PatternError(
            f"{name} has {in_features} inputs, not a multiple of {group}: it cannot hold an N:{group} "
            "pattern; use prune.<method>.pattern 'unstructured' or a group size that divides it"
        )


def n_m_mask(scores: torch.Tensor, kept: int, group: int) -> torch.Tensor:
    """Prune the `group - kept` lowest scores in every group of `group` consecutive inputs of a row."""
    rows, cols = scores.shape
    grouped = scores.reshape(rows, cols // group, group)
    lowest = torch.topk(grouped, group - kept, dim=2, largest=False).indices
    mask = torch.zeros_like(grouped, dtype=torch.bool).scatter_(2, lowest, True)
    return mask.reshape(rows, cols)


def holds_n_m(weight: torch.Tensor, kept: int, group: int) -> bool:
    """Whether every group of `group` consecutive inputs of every row has at most `kept` nonzeros."""
    rows, cols = weight.shape
    if cols % group:
        return False
    return bool(((weight != 0).reshape(rows, cols // group, group).sum(2) <= kept).all())


def choose_mask(scores: torch.Tensor, sparsity: float, n_m: tuple[int, int] | None) -> torch.Tensor:
    return row_mask(scores, sparsity) if n_m is None else n_m_mask(scores, *n_m)


def reconstruction_error(original: torch.Tensor, pruned: torch.Tensor, hessian: torch.Tensor) -> float:
    """||X W^T - X W'^T||_F^2 over the calibration inputs X (hessian = X^T X), per token."""
    delta = (original.double() - pruned.double()).cpu()
    return float(torch.einsum("ij,jk,ik->", delta, hessian, delta))


# --------------------------------------------------------------------------------------------------
# SparseGPT


def _inverse_cholesky(hessian: torch.Tensor, damping: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(upper Cholesky factor of H^-1, dead inputs) with `damping * mean(diag H)` on the diagonal."""
    h = hessian.clone().double()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0  # an input never active: any weight there is free to go
    h += torch.eye(h.shape[0], dtype=h.dtype) * damping * torch.diag(h).mean()
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(h))
    return torch.linalg.cholesky(inverse, upper=True), dead


def _block_mask(
    block: torch.Tensor, diag: torch.Tensor, start: int, end: int, sparsity: float
) -> torch.Tensor:
    """Unstructured mask of one block: every row loses its share of this block's columns, chosen so
    the row's total over all blocks is exactly round(sparsity * in_features)."""
    k = pruned_per_row(end, sparsity) - pruned_per_row(start, sparsity)
    mask = torch.zeros_like(block, dtype=torch.bool)
    if k:
        saliency = block**2 / diag.unsqueeze(0) ** 2
        mask.scatter_(1, torch.topk(saliency, k, dim=1, largest=False).indices, True)
    return mask


def sparsegpt(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    sparsity: float,
    n_m: tuple[int, int] | None,
    *,
    damping: float,
    block_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pruned weight, mask): column by column, each pruned weight's error is spread over the columns
    not yet visited through the inverse Hessian (the OBS update), in blocks of `block_size`."""
    w = weight.detach().clone().float().cpu()  # float32 column loop; the inverse in float64
    hinv, dead = _inverse_cholesky(hessian, damping)
    hinv = hinv.float()
    w[:, dead] = 0
    cols = w.shape[1]
    mask = torch.zeros_like(w, dtype=torch.bool)
    for start in range(0, cols, block_size):
        end = min(start + block_size, cols)
        block, h_block = w[:, start:end].clone(), hinv[start:end, start:end]
        errors = torch.zeros_like(block)
        block_mask = (
            _block_mask(block, torch.diag(h_block), start, end, sparsity)
            if n_m is None
            else torch.zeros_like(block, dtype=torch.bool)
        )
        for i in range(end - start):
            if n_m is not None and i % n_m[1] == 0:
                group = slice(i, i + n_m[1])
                saliency = block[:, group] ** 2 / torch.diag(h_block)[group].unsqueeze(0) ** 2
                lowest = torch.topk(saliency, n_m[1] - n_m[0], dim=1, largest=False).indices
                block_mask[:, group] = torch.zeros_like(saliency, dtype=torch.bool).scatter_(1, lowest, True)
            column = block[:, i]
            kept = torch.where(block_mask[:, i], torch.zeros_like(column), column)
            error = (column - kept) / h_block[i, i]
            block[:, i:] -= error.unsqueeze(1) @ h_block[i, i:].unsqueeze(0)
            block[:, i] = kept
            errors[:, i] = error
        w[:, start:end] = block
        mask[:, start:end] = block_mask
        w[:, end:] -= errors @ hinv[start:end, end:]
    w[mask] = 0  # exact zeros, whatever rounding left
    return w.to(weight.dtype), mask
