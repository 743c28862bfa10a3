"""Importance pruning: first-order Taylor importance of heads and FFN neurons, then removal.

`config` holds its section and its record (torch-free); `taylor` the scores, `pruner` the method.
"""

from __future__ import annotations

import importlib
from typing import Any

# Where each public name lives; imported on first use (the code imports torch, the config does not).
_HOME = {
    "Importance": "taylor",
    "taylor_importance": "taylor",
    "ImportancePruner": "pruner",
    "prune_model": "pruner",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Importance", "ImportancePruner", "prune_model", "taylor_importance"]
