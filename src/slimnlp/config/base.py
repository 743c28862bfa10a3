"""The ground floor of the run config: the error type, fields with help and constraints, the
shared checks, typed building.

    @dataclass(frozen=True)
    class ExportConfig(Section):
        opset: int = _help("ONNX opset.", 18, ge=11, le=23)

Every section module builds on these; `run.py` gathers the sections into one `RunConfig`. A section
derives from `Section`, whose one `__post_init__` checks every field against what its `_help`
declares (see `constraints.Constraint`) and then calls the section's `check` for rules that span
fields. Errors name the key's full path: `teacher.learning_rate must be > 0, got -1`.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import field
from typing import Any

from slimnlp.config.constraints import Constraint


class ConfigError(ValueError):
    """A config key is unknown or its value is invalid; the message names the key's path."""


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key} {message}")


def _help(
    text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING, **constraints: Any
) -> Any:
    """A field with its help text and what it accepts, as `Constraint` keywords (ge, gt, le, lt,
    choices, pattern + means, min_items); a `Section` checks them."""
    metadata: dict[str, Any] = {"help": text}
    if constraints:
        metadata["check"] = Constraint(**constraints)
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _override(base: type, name: str, default: Any, text: str | None = None, **constraints: Any) -> Any:
    """Field `name` of `base` with this section's default; its help text and constraints are kept
    unless given here (constraints given replace the inherited ones)."""
    inherited = next(f for f in dataclasses.fields(base) if f.name == name)
    metadata = dict(inherited.metadata)
    if text is not None:
        metadata["help"] = text
    if constraints:
        metadata["check"] = Constraint(**constraints)
    return field(default=default, metadata=metadata)


class Section:
    """Base of a config section (a frozen dataclass): one `__post_init__` checks every field against
    the constraint declared with it, then `check` runs the rules that span fields."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__post_init__" in cls.__dict__:  # it would skip the field checks without a word
            raise TypeError(f"{cls.__name__}: put cross-field rules in check(), not __post_init__")

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            _check_field(self, item)
        self.check()

    def check(self) -> None:
        """Rules across fields (e.g. hidden_size divisible by num_heads); one-field rules belong in `_help`."""


def _check_field(section: Any, item: dataclasses.Field) -> None:
    rule: Constraint | None = item.metadata.get("check")
    value = getattr(section, item.name)
    if rule is None or value is None:  # None passed the type check, so the field allows it
        return
    if isinstance(value, list):
        length_ok = rule.min_items is None or len(value) >= rule.min_items
        _require(length_ok, item.name, f"must be {rule.describe_list()}, got {value}")
        for i, entry in enumerate(value):
            problem = rule.problem(entry)
            _require(problem is None, f"{item.name}[{i}]", problem or "")
        return
    problem = rule.problem(value, nullable=is_nullable(type_hints(type(section))[item.name]))
    _require(problem is None, item.name, problem or "")


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a section class (its annotations are strings)."""
    return typing.get_type_hints(cls)


def is_nullable(hint: Any) -> bool:
    """True for `X | None`."""
    return typing.get_origin(hint) in (types.UnionType, typing.Union) and type(None) in typing.get_args(hint)


# --------------------------------------------------------------------------------------------------
# Building a section from plain values (YAML, JSON, --set), checking every value against its hint


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check (and gently convert) one value against its type hint; errors name the key."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}")
        return _build(hint, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {str(k): str(v) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, bool):
            raise ConfigError(
                f"{key} must be a string, got {value!r} (YAML reads on/off/yes/no as "
                f"booleans: quote the value, e.g. {key}='off')"
            )
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


def _check_keys(cls: type, values: dict[str, Any], prefix: str) -> None:
    """Unknown keys fail; a key that moved (a section's `MOVED_KEYS`: old name -> new path below the
    section) fails with its new path, so an old config says exactly what to rename."""
    known = {f.name for f in dataclasses.fields(cls)}
    moved: dict[str, str] = getattr(cls, "MOVED_KEYS", {})
    for key in values:
        if key in known:
            continue
        where = f"{prefix}.{key}" if prefix else key
        if key in moved:
            new = f"{prefix}.{moved[key]}" if prefix else moved[key]
            raise ConfigError(f"{where} moved to {new}; rename the key in your config or --set")
        raise ConfigError(f"unknown config key {where!r}; known keys here: {sorted(known)}")


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    _check_keys(cls, values, prefix)
    hints = type_hints(cls)
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{prefix}.{err}" if prefix else str(err)) from None
