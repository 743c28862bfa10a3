"""prune.nas latency model: the table is monotone in heads, units and layers (noisy probes included),
measured in PyTorch and in ORT int8 on a tiny model, saved with the machine facts."""

from __future__ import annotations

import random

import pytest

from slimnlp import models
from slimnlp.config import NasConfig
from slimnlp.prune.nas.latency import (
    LatencyTable,
    LatencyTarget,
    measure_latency_table,
    monotone,
    probe_archs,
    probed_units,
    table_from_probes,
)
from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from tests.helpers_models import TINY_TEXTS, build_tiny_model_dir


def _space(**fields) -> SearchSpace:
    return SearchSpace.of_model(4, 4, 1024, NasConfig(**{"ffn_step": 128, **fields}), min_heads=1)


def _assert_monotone(table: LatencyTable, space: SearchSpace) -> None:
    """Strictly more time for more heads, more units, more layers, at every batch size."""
    for b, grid in table.layer_ms.items():
        for i, row in enumerate(grid):
            assert all(x < y for x, y in zip(row, row[1:], strict=False)), f"b{b} heads {i}: {row}"
        for j in range(len(grid[0])):
            column = [row[j] for row in grid]
            assert all(x < y for x, y in zip(column, column[1:], strict=False)), f"b{b} units {j}: {column}"
        assert table.fixed_ms[b] > 0 and grid[0][0] > 0
        rng = random.Random(b)
        for _ in range(30):
            arch = space.sample(rng)
            kept = arch.kept_layers
            if len(kept) > 1:  # dropping a layer is always faster
                fewer = SubNetwork(
                    tuple((0, 0) if i == kept[0] else layer for i, layer in enumerate(arch.layers))
                )
                assert table.predict(fewer, b) < table.predict(arch, b)
            assert (
                table.predict(space.smallest(), b)
                <= table.predict(arch, b)
                <= table.predict(space.largest(), b)
            )


def test_noisy_probes_still_give_a_monotone_table():
    space = _space(min_heads=1)
    units = probed_units(space, 4)
    assert units == [128, 384, 640, 896]  # evenly spread, the narrowest included
    assert set(probe_archs(space, 4)) == {"empty", "full", "heads=1", "heads=2", "heads=3"} | {
        f"units={u}" for u in units
    }
    rng = random.Random(0)
    medians = {}
    for b, scale in ((1, 0.2), (32, 5.0)):
        true = {"empty": 0.5 * scale, "full": 10 * scale}
        true |= {f"heads={h}": (6 + h) * scale for h in (1, 2, 3)}
        true |= {f"units={u}": (6 + 4 * u / 1024) * scale for u in units}
        # up to +-30% noise, and one probe measured twice as slow (a neighbour woke up)
        medians[b] = {k: v * rng.uniform(0.7, 1.3) for k, v in true.items()}
        medians[b]["heads=1"] *= 2
    table = table_from_probes(space, medians, LatencyTarget(batch_sizes=(1, 32)))
    _assert_monotone(table, space)
    assert table.layer_ms[32][0][0] < table.layer_ms[32][-1][-1] / 2  # the structure survives the noise


def test_monotone_is_the_least_squares_non_decreasing_fit():
    assert monotone([1.0, 3.0, 2.0, 4.0]) == [1.0, 2.5, 2.5, 4.0]
    assert monotone([5.0]) == [5.0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model, tokenizer = models.load_model_dir(build_tiny_model_dir(tmp_path_factory.mktemp("lat") / "teacher"))
    return model.eval(), tokenizer


@pytest.mark.parametrize(
    "runtime",
    ["pytorch", pytest.param("onnx-int8", marks=pytest.mark.slow)],  # ORT int8 table: ~40 s
)
def test_a_measured_table_is_monotone_and_saved_with_the_machine(tiny, runtime, tmp_path):
    model, tokenizer = tiny
    # ORT exports a model per probe (seconds each): 3 and 4 heads x 32 and 64 units keeps it to four.
    fields = {"ffn_step": 16} if runtime == "pytorch" else {"ffn_step": 32, "min_heads": 3}
    space = SearchSpace.of_model(2, 4, 64, NasConfig(**fields), min_heads=1)
    target = LatencyTarget(
        runtime=runtime, threads=1, batch_sizes=(1, 8), sequence_length=16, rounds=2, iterations=3
    )
    table = measure_latency_table(model, tokenizer, space, TINY_TEXTS, target, progress=False)
    assert table.runtime == runtime and table.sequence_length == 16 and table.num_layers == 2
    assert set(table.probes_ms[8]) == set(probe_archs(space, target.unit_probes))
    assert all(ms > 0 for ms in table.probes_ms[8].values())
    _assert_monotone(table, space)
    # The prediction of the teacher's shape is the probe that measured it (up to the monotone fit).
    assert table.predict(space.largest(), 8) == pytest.approx(table.probes_ms[8]["full"], rel=0.5)
    assert table.machine["cpu_model"] and "avx2" in table.machine["isa_flags"]
    loaded = LatencyTable.load(table.save(tmp_path / "latency_table.json"))
    assert loaded == table
