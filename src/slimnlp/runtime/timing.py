"""Latency: milliseconds per call, with the variants interleaved so that a noisy neighbour on a shared
machine slows every variant alike instead of whichever happened to run then.

    from slimnlp.runtime.timing import interleaved_rounds
    ms = interleaved_rounds({"teacher": lambda: t.run(feed_t), "student": lambda: s.run(feed_s)},
                            rounds=5, iterations=20, warmup=3)
    # {"teacher": [20 x 5 samples, in round order], "student": [...]}

The benchmark harness (`slimnlp.benchmark.latency`) and vocabulary transfer
(`slimnlp.models.vocab_transfer.batch_latency_ms`) both time through here.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def timed_calls(call: Callable[[], object], iterations: int) -> list[float]:
    """Milliseconds of each of `iterations` calls of `call`."""
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def interleaved_rounds(
    calls: dict[str, Callable[[], object]],
    rounds: int,
    iterations: int,
    warmup: int,
    on_round: Callable[[], None] | None = None,
) -> dict[str, list[float]]:
    """Milliseconds per call of every callable: `warmup` untimed calls each, then `rounds` rounds in
    which each callable makes `iterations` timed calls, the order rotating by one every round.

    Returns:
        {name: rounds x iterations samples, in round order}.
    """
    names = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        for _ in range(warmup):
            calls[name]()
    # A garbage collection inside a timed call would be charged to whichever variant was unlucky.
    gc.collect()
    gc.disable()
    try:
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name] += timed_calls(calls[name], iterations)
            if on_round:
                on_round()
    finally:
        gc.enable()
    return samples


def median(values: list[float]) -> float:
    """The upper median (the middle sample, no averaging of two)."""
    return sorted(values)[len(values) // 2]
