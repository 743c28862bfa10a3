"""Structural pruning by neural architecture search (Klein et al. 2024), registered as `nas`.

- `space`: sub-networks (per layer: heads, FFN units, kept or dropped) and the search-space presets;
- `supernet`: importance order, masked sub-networks for training, physical slicing;
- `training`: the sandwich rule with in-place distillation;
- `latency`: the per-layer latency table measured in the target runtime;
- `search`: optuna NSGA-II (or random) over accuracy vs predicted latency, and the Pareto front;
- `front`: the front measured end to end, its table and plot, and selection by a budget;
- `pruner`: the `NasPruner` that runs them in that order;
- `config`: the section `prune.nas` and the method's record (torch-free).
"""

from __future__ import annotations

from slimnlp.prune.lazy import lazy_names

# Where each public name lives; imported on first use (the code imports torch, the config does not).
_HOME = {
    "NasPruner": "pruner",
    "SearchSpace": "space",
    "SubNetwork": "space",
}

__getattr__ = lazy_names(__name__, _HOME)


__all__ = ["NasPruner", "SearchSpace", "SubNetwork"]
