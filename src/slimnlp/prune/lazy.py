"""Public names of a method package imported on first use: the code imports torch, the config not.

__getattr__ = lazy_names(__name__, {"NasPruner": "pruner"})   # in prune/<method>/__init__.py
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, home: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `package.<home[name]>` when `name` is first asked for."""

    def __getattr__(name: str) -> Any:
        if name in home:
            return getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
