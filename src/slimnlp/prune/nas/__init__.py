"""Structural pruning by neural architecture search (Klein et al. 2024), registered as `nas`.

- `space`: sub-networks (per layer: heads, FFN units, kept or dropped) and the search-space presets;
- `supernet`: importance order, masked sub-networks for training, physical slicing;
- `training`: the sandwich rule with in-place distillation;
- `latency`: the per-layer latency table measured in the target runtime;
- `search`: optuna NSGA-II (or random) over accuracy vs predicted latency, and the Pareto front;
- `front`: the front measured end to end, its table and plot, and selection by a budget;
- `pruner`: the registered `NasPruner` that runs them in that order.
"""

from slimnlp.prune.nas.pruner import NasPruner
from slimnlp.prune.nas.space import SearchSpace, SubNetwork

__all__ = ["NasPruner", "SearchSpace", "SubNetwork"]
