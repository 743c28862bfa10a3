"""Dev rows with one job each (torch-free): the search part scores the search's candidates and stops
training early; the selection part only chooses (front points, then recovered candidates).

    search_rows, selection_rows = split_dev(len(dev_texts), selection_fraction=0.5, seed=13)
    search_dev, selection_dev = take(dev, search_rows), take(dev, selection_rows)

Why: the search scores hundreds of sub-networks on the same rows, so the fastest one that seems to
clear the budget is the one those rows flatter most (winner's curse). Rows it never saw give an
honest figure to choose by. The split depends only on (rows, fraction, seed): every step that needs
it (prune, the recovery of each candidate, select-student) computes the same one.
"""

from __future__ import annotations

import numpy as np

Split = tuple[list[str], list[int]]


def split_dev(rows: int, selection_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(search rows, selection rows) as sorted indices into dev; fraction 0 gives all rows to both."""
    if selection_fraction <= 0:
        everything = list(range(rows))
        return everything, everything
    chosen = int(round(rows * selection_fraction))
    if rows < 2 or not 1 <= chosen <= rows - 1:
        raise ValueError(
            f"prune.nas.selection_fraction={selection_fraction} of {rows} dev rows leaves a part empty: "
            "use a larger dev split (data.dev_fraction) or prune.nas.selection_fraction 0"
        )
    order = np.random.default_rng(seed).permutation(rows)
    return sorted(int(i) for i in order[chosen:]), sorted(int(i) for i in order[:chosen])


def take(split: Split, indices: list[int]) -> Split:
    """The rows `indices` of a (texts, labels) split."""
    texts, labels = split
    return [texts[i] for i in indices], [labels[i] for i in indices]


def dev_parts(dev: Split, selection_fraction: float, seed: int) -> tuple[Split, Split]:
    """(search dev, selection dev) of a (texts, labels) dev split."""
    search_rows, selection_rows = split_dev(len(dev[0]), selection_fraction, seed)
    return take(dev, search_rows), take(dev, selection_rows)
