"""What a config field accepts, declared with the field and read three ways.

    learning_rate: float = _help("Peak learning rate.", 5e-4, gt=0)
    precision: str = _help("auto, fp16, bf16 or fp32.", "auto", choices=("auto", "fp16", "bf16", "fp32"))

`Section.__post_init__` checks the value (`teacher.learning_rate must be > 0, got -1`), `--help`
prints `describe()` beside the field, and `slimnlp config-schema` turns it into JSON Schema
keywords (`minimum`, `enum`, ...). One declaration, so the three never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# keyword -> (JSON Schema keyword, symbol when it is the only bound, bracket when it closes a range)
_BOUNDS = {
    "ge": ("minimum", ">=", "["),
    "gt": ("exclusiveMinimum", ">", "("),
    "le": ("maximum", "<=", "]"),
    "lt": ("exclusiveMaximum", "<", ")"),
}


@dataclass(frozen=True)
class Constraint:
    """Bounds, a set of values or a pattern; on a list field each item must satisfy them and
    `min_items` bounds the length. `choices` may be a function returning the values, for names
    registered at import time (`choices=prune_methods`)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] | None = None
    pattern: str | None = None
    means: str | None = None  # what `pattern` accepts, in words ("a Kubernetes quantity such as 2Gi")
    min_items: int | None = None

    def __post_init__(self) -> None:
        # Mistakes of whoever declares a field, caught when the module is imported.
        if self.ge is not None and self.gt is not None or self.le is not None and self.lt is not None:
            raise TypeError("declare one lower bound (ge or gt) and one upper bound (le or lt)")
        if self.means is not None and self.pattern is None:
            raise TypeError("means= describes a pattern=; declare the pattern too")

    @property
    def lower(self) -> tuple[str, float] | None:
        return ("ge", self.ge) if self.ge is not None else ("gt", self.gt) if self.gt is not None else None

    @property
    def upper(self) -> tuple[str, float] | None:
        return ("le", self.le) if self.le is not None else ("lt", self.lt) if self.lt is not None else None

    @property
    def allowed(self) -> tuple[Any, ...] | None:
        """The choices, asked for now (a registry may have grown since the field was declared)."""
        return self.choices() if callable(self.choices) else self.choices

    def describe(self) -> str:
        """What a value must be, in words: '> 0', 'in [0, 1)', "'pruned' or 'layers'"."""
        words = []
        lower, upper = self.lower, self.upper
        if lower and upper:
            words.append(f"in {_BOUNDS[lower[0]][2]}{lower[1]}, {upper[1]}{_BOUNDS[upper[0]][2]}")
        elif lower or upper:
            kind, bound = lower or upper
            words.append(f"{_BOUNDS[kind][1]} {bound}")
        allowed = self.allowed
        if allowed is not None:
            words.append(f"{allowed[0]!r} or {allowed[1]!r}" if len(allowed) == 2 else f"one of {allowed}")
        if self.pattern is not None:
            words.append(self.means or f"a string matching {self.pattern}")
        return " and ".join(words)

    def describe_list(self) -> str:
        """A list field's rule: 'a non-empty list, each >= 1'."""
        length = {None: "", 1: "a non-empty list"}.get(self.min_items, f"a list of at least {self.min_items}")
        items = self.describe()
        return ", ".join(part for part in (length, f"each {items}" if items else "") if part)

    def problem(self, value: Any, nullable: bool = False) -> str | None:
        """None when `value` is accepted, else the message after the key: 'must be > 0, got -1'."""
        if self._accepts(value):
            return None
        got = repr(value) if isinstance(value, str) else str(value)
        return f"must be {self.describe()}{' or null' if nullable else ''}, got {got}"

    def _accepts(self, value: Any) -> bool:
        for kind, bound in filter(None, (self.lower, self.upper)):
            if not _compare(kind, value, bound):
                return False
        if self.allowed is not None and value not in self.allowed:
            return False
        return self.pattern is None or bool(re.fullmatch(self.pattern, str(value)))

    def schema(self) -> dict[str, Any]:
        """The JSON Schema keywords of one value (a list's items take these; `min_items` is the list's)."""
        keywords: dict[str, Any] = {}
        for kind, bound in filter(None, (self.lower, self.upper)):
            keywords[_BOUNDS[kind][0]] = bound
        if self.allowed is not None:
            keywords["enum"] = list(self.allowed)
        if self.pattern is not None:
            keywords["pattern"] = f"^(?:{self.pattern})$"
        return keywords


def _compare(kind: str, value: Any, bound: float) -> bool:
    if kind == "ge":
        return value >= bound
    if kind == "gt":
        return value > bound
    if kind == "le":
        return value <= bound
    return value < bound
