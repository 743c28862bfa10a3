"""`Constraint`: the words of the error and of --help, and the JSON Schema keywords, for each shape."""

from __future__ import annotations

import pytest

from slimnlp.config import Constraint


@pytest.mark.parametrize(
    ("rule", "good", "bad", "message", "schema"),
    [
        (Constraint(gt=0), 1e-5, 0, "must be > 0, got 0", {"exclusiveMinimum": 0}),
        (Constraint(ge=1), 1, 0, "must be >= 1, got 0", {"minimum": 1}),
        (Constraint(le=1), 1, 1.5, "must be <= 1, got 1.5", {"maximum": 1}),
        (Constraint(ge=0, lt=1), 0, 1, "must be in [0, 1), got 1", {"minimum": 0, "exclusiveMaximum": 1}),
        (Constraint(gt=0, le=1), 1, 0.0, "must be in (0, 1], got 0.0", {"exclusiveMinimum": 0, "maximum": 1}),
        (Constraint(choices=("a", "b")), "a", "c", "must be 'a' or 'b', got 'c'", {"enum": ["a", "b"]}),
        (
            Constraint(choices=("x", "y", "z")),
            "z",
            "w",
            "must be one of ('x', 'y', 'z'), got 'w'",
            {"enum": ["x", "y", "z"]},
        ),
        (
            Constraint(pattern="[0-9]+m?", means="a count"),
            "500m",
            "500 m",
            "must be a count, got '500 m'",
            {"pattern": "^(?:[0-9]+m?)$"},
        ),
        (
            Constraint(pattern="[a-z]+"),
            "ab",
            "a1",
            "must be a string matching [a-z]+, got 'a1'",
            {"pattern": "^(?:[a-z]+)$"},
        ),
    ],
)
def test_each_shape(rule, good, bad, message, schema):
    assert rule.problem(good) is None
    assert rule.problem(bad) == message
    assert rule.schema() == schema


def test_null_is_named_where_the_field_allows_it():
    assert Constraint(ge=100).problem(5, nullable=True) == "must be >= 100 or null, got 5"


def test_a_list_rule_speaks_of_its_items():
    assert Constraint(ge=1, min_items=1).describe_list() == "a non-empty list, each >= 1"
    assert Constraint(min_items=2).describe_list() == "a list of at least 2"


@pytest.mark.parametrize(
    "keywords",
    [{"ge": 0, "gt": 0}, {"le": 1, "lt": 1}, {"means": "a name"}],
    ids=["two-lower", "two-upper", "means"],
)
def test_a_contradictory_declaration_fails_at_import(keywords):
    with pytest.raises(TypeError):
        Constraint(**keywords)


def test_choices_from_a_registry_are_read_when_checked():
    registry = ["a"]
    rule = Constraint(choices=lambda: tuple(registry))
    assert rule.problem("b") == "must be one of ('a',), got 'b'"
    registry.append("b")  # registered after the field was declared
    assert rule.problem("b") is None and rule.schema() == {"enum": ["a", "b"]}
