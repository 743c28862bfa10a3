"""Run config: strict loading, key paths in errors, overrides, the shipped config files."""

from pathlib import Path

import pytest

from slimnlp.config import ConfigError, config_from_json, load_config

ROOT = Path(__file__).parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml")) + sorted((ROOT / "benchmarks").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.name
    assert config_from_json(cfg.to_json()) == cfg


def test_benchmark_shares_the_cpu_pretraining():
    """`make pretrain` and `make bench` must land on one pretraining cache entry: same data, seed and
    pretrain settings give the same cache key (a mismatch would cost the benchmark ~35 min)."""
    from slimnlp.pretrain.run import cache_key

    preset, bench = load_config(ROOT / "configs/pretrain-cpu.yaml"), load_config(ROOT / "benchmarks/shc.yaml")
    assert bench.pretrain.enabled and preset.pretrain.enabled
    assert bench.data == preset.data
    assert bench.output_dir == preset.output_dir and bench.pretrain.cache_dir == preset.pretrain.cache_dir
    texts = ["एक वाक्य", "दुसरे वाक्य"]
    assert cache_key(bench.pretrain, "c0ffee", texts, bench.seed) == cache_key(
        preset.pretrain, "c0ffee", texts, preset.seed
    )
    # ... and the key does move with a setting that changes the model.
    longer = load_config(ROOT / "benchmarks/shc.yaml", ["pretrain.max_minutes=60"])
    assert cache_key(longer.pretrain, "c0ffee", texts, longer.seed) != cache_key(
        bench.pretrain, "c0ffee", texts, bench.seed
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("prune.target_sparsity=1.5", "prune.target_sparsity must be in (0, 1), got 1.5"),
        ("prune.target_sparsity=0", "prune.target_sparsity must be in (0, 1), got 0"),
        ("prune.targt_sparsity=0.5", "unknown config key 'prune.targt_sparsity'"),
        ("teacher.epochs=many", "teacher.epochs must be an integer, got 'many'"),
        ("teacher.hidden_size=102", "teacher.hidden_size (102) must be divisible by num_heads (4)"),
        ("finetune_amp.precision=fp8", "finetune_amp.precision must be one of"),
        ("benchmark.batch_sizes=[]", "benchmark.batch_sizes must be a non-empty list"),
        ("data.dev_fraction=0.9", "data.dev_fraction must be in (0, 0.5)"),
        ("nonsense=1", "unknown config key 'nonsense'"),
        ("noequals", "must look like key.path=value"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert message in str(err.value)


def test_overrides_and_env(monkeypatch, tmp_path):
    cfg = load_config(overrides=["prune.target_sparsity=0.5", "benchmark.batch_sizes=[1, 8]", "name=x"])
    assert cfg.prune.target_sparsity == 0.5
    assert cfg.benchmark.batch_sizes == [1, 8]
    assert cfg.run_dir == Path("runs/x")
    monkeypatch.setenv("SLIMNLP_DATA_DIR", str(tmp_path))
    assert load_config(CONFIGS[0]).data.dir == str(tmp_path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(bad)
    nested = tmp_path / "nested.yaml"
    nested.write_text("teacher:\n  epochs: 2\n  colour: red\n")
    with pytest.raises(ConfigError, match="teacher.colour"):
        load_config(nested)
