"""Importance pruning: first-order Taylor importance of heads and FFN neurons, then removal.

`config` holds its section and its record (torch-free); `taylor` the scores, `pruner` the method.
"""

from __future__ import annotations

from slimnlp.prune.lazy import lazy_names

# Where each public name lives; imported on first use (the code imports torch, the config does not).
_HOME = {
    "Importance": "taylor",
    "taylor_importance": "taylor",
    "ImportancePruner": "pruner",
    "prune_model": "pruner",
}

__getattr__ = lazy_names(__name__, _HOME)


__all__ = ["Importance", "ImportancePruner", "prune_model", "taylor_importance"]
