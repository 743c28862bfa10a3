"""Interleaved latency rounds: warm-up untimed, every callable timed `iterations` times a round,
the order rotating each round, garbage collection off while timing and back on after."""

from __future__ import annotations

import gc

import pytest

from slimnlp.runtime.timing import interleaved_rounds, median, timed_calls


def test_rounds_rotate_and_count_every_call() -> None:
    order: list[str] = []
    calls = {name: (lambda name=name: order.append(name)) for name in ("a", "b", "c")}
    rounds: list[int] = []
    samples = interleaved_rounds(calls, rounds=3, iterations=2, warmup=1, on_round=lambda: rounds.append(1))
    assert {name: len(times) for name, times in samples.items()} == {"a": 6, "b": 6, "c": 6}
    assert order[:3] == ["a", "b", "c"]  # warm-up
    timed = order[3:]
    assert timed == ["a", "a", "b", "b", "c", "c", "b", "b", "c", "c", "a", "a", "c", "c", "a", "a", "b", "b"]
    assert len(rounds) == 3
    assert gc.isenabled()


def test_gc_is_back_on_after_a_failing_call() -> None:
    def boom() -> None:
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        interleaved_rounds({"x": boom}, rounds=1, iterations=1, warmup=0)
    assert gc.isenabled()


def test_timed_calls_and_median() -> None:
    assert len(timed_calls(lambda: None, 4)) == 4
    assert all(t >= 0 for t in timed_calls(lambda: sum(range(1000)), 3))
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 3.0  # the upper middle, as vocabulary transfer reported
