"""Latency of every variant at fixed (batch size, sequence length) points, variants interleaved.

    samples = time_interleaved(runners, texts, cfg, progress=True)   # {variant: {"32": [ms, ...], "1@256": ...}}
    row |= latency_stats(samples["student-onnx"])                      # latency_b32_p50_ms, throughput_b32, ...

The model call alone is timed (tokenisation is done beforehand and is the same work for every
variant), on real test texts padded/truncated to exactly the point's length. Beside the fixed
lengths, every batch size is also timed at the test set's own lengths (key "32@real"): the texts
sorted by length and cut into batches (length buckets), each padded to its longest text (dynamic
padding, as served); the calls cycle through up to REAL_BUCKETS batches spread evenly over the
length distribution, short to long. The rounds and their rotating order are
`slimnlp.runtime.timing.interleaved_rounds`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from slimnlp.config import BenchmarkConfig
from slimnlp.runtime import Runner
from slimnlp.runtime.timing import interleaved_rounds


def latency_batch(texts: list[str], batch_size: int) -> list[str]:
    """The first `batch_size` test texts, cycling when the test set is smaller."""
    return [texts[i % len(texts)] for i in range(batch_size)]


REAL_BUCKETS = 8
REAL = "real"


def length_buckets(texts: list[str], batch_size: int, buckets: int = REAL_BUCKETS) -> list[list[str]]:
    """Batches of texts of similar length (sorted by characters, the same for every tokenizer), up to
    `buckets` of them taken evenly from the shortest to the longest."""
    ordered = sorted(texts, key=len)
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    if len(batches[-1]) < batch_size and len(batches) > 1:
        batches = batches[:-1]  # every timed call has the point's batch size
    if len(batches) <= buckets:
        return batches
    return [batches[round(i * (len(batches) - 1) / (buckets - 1))] for i in range(buckets)]


def cycling_call(runner: Runner, feeds: list) -> Callable[[], object]:
    """A call that runs the next of `feeds` each time (round-robin)."""
    position = [0]

    def call() -> object:
        feed = feeds[position[0] % len(feeds)]
        position[0] += 1
        return runner.run(feed)

    return call


def timing_points(cfg: BenchmarkConfig) -> list[tuple[int, int]]:
    """(batch size, sequence length) pairs to time: every batch size at cfg.sequence_length, then
    at each extra length of cfg.sequence_lengths."""
    lengths = [cfg.sequence_length] + [n for n in cfg.sequence_lengths if n != cfg.sequence_length]
    return [(batch, length) for length in dict.fromkeys(lengths) for batch in cfg.batch_sizes]


def point_key(batch_size: int, length: int, cfg: BenchmarkConfig) -> str:
    """ "32" at the reference length (as before extra lengths existed), else "32@128"."""
    return str(batch_size) if length == cfg.sequence_length else f"{batch_size}@{length}"


def time_interleaved(
    runners: dict[str, Runner], texts: list[str], cfg: BenchmarkConfig, progress: bool
) -> dict[str, dict[str, list[float]]]:
    """Milliseconds per call, per variant and timing point; warm-up excluded, variants interleaved.

    The samples of each point are in round order (`cfg.iterations` per round), which is what the
    per-round ratios of `slimnlp.benchmark.compare` rely on.
    """
    from tqdm.auto import tqdm

    samples: dict[str, dict[str, list[float]]] = {name: {} for name in runners}
    points = timing_points(cfg)
    bar = tqdm(
        total=(len(points) + len(cfg.batch_sizes)) * cfg.rounds, desc="latency rounds", disable=not progress
    )
    for batch_size, length in points:
        key = point_key(batch_size, length, cfg)
        batch = latency_batch(texts, batch_size)
        calls = {
            name: partial(runner.run, runner.encode(batch, pad_to=length)) for name, runner in runners.items()
        }
        timed = interleaved_rounds(
            calls, cfg.rounds, cfg.iterations, cfg.warmup, on_round=partial(bar.update, 1)
        )
        for name, times in timed.items():
            samples[name][key] = times
    for batch_size in cfg.batch_sizes:  # the test set's own lengths, dynamic padding
        buckets = length_buckets(
            texts if len(texts) >= batch_size else latency_batch(texts, batch_size), batch_size
        )
        calls = {name: cycling_call(r, [r.encode(b) for b in buckets]) for name, r in runners.items()}
        timed = interleaved_rounds(
            calls, cfg.rounds, cfg.iterations, cfg.warmup, on_round=partial(bar.update, 1)
        )
        for name, times in timed.items():
            samples[name][f"{batch_size}@{REAL}"] = times
    bar.close()
    return samples


def latency_stats(samples: dict[str, list[float]]) -> dict[str, float]:
    """p50/p95/p99/mean ms and throughput (sequences/s) per timing point key ("32" or "32@128")."""
    stats: dict[str, Any] = {}
    for key, times in samples.items():
        batch, _, length = key.partition("@")
        prefix = f"latency_b{batch}" + (f"_s{length}" if length else "")
        ms = np.asarray(times)
        for q in (50, 95, 99):
            stats[f"{prefix}_p{q}_ms"] = float(np.percentile(ms, q))
        stats[f"{prefix}_mean_ms"] = float(ms.mean())
        stats[f"throughput_b{batch}" + (f"_s{length}" if length else "")] = float(
            int(batch) * 1000 / ms.mean()
        )
    return stats
