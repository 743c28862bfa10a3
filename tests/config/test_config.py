"""Run config: strict loading, key paths in errors, overrides, the shipped config files."""

from pathlib import Path

import pytest

from slimnlp.config import ConfigError, config_from_json, load_config

ROOT = Path(__file__).parents[2]
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
        ("prune.target_sparsity=1.5", "prune.target_sparsity must be in [0, 1), got 1.5"),
        ("prune.target_sparsity=0", "prune.target_sparsity must be in (0, 1), got 0"),
        ("prune.targt_sparsity=0.5", "unknown config key 'prune.targt_sparsity'"),
        ("teacher.epochs=many", "teacher.epochs must be an integer, got 'many'"),
        ("teacher.hidden_size=102", "teacher.hidden_size (102) must be divisible by num_heads (4)"),
        ("finetune_amp.precision=fp8", "finetune_amp.precision must be one of"),
        ("benchmark.batch_sizes=[]", "benchmark.batch_sizes must be a non-empty list"),
        ("data.dev_fraction=0.9", "data.dev_fraction must be in (0, 0.5)"),
        ("nonsense=1", "unknown config key 'nonsense'"),
        (
            "benchmark.runtimes=[onnx-int8]",
            "benchmark.runtimes ['onnx-int8'] lacks 'onnx', which the promote step",
        ),
        (
            "export.quantize_int8=false",
            "registry.serve_variant is int8: the promote step registers, gates and serves the int8 ONNX "
            "model, which needs export.quantize_int8: true; set them, or registry.serve_variant: fp32",
        ),
        ("benchmark.runtimes=[onnx]", "which needs onnx-int8 in benchmark.runtimes;"),
        ("teacher.budget_minutes=0", "teacher.budget_minutes must be > 0 or null, got 0"),
        ("distill.budget_minutes=-1", "distill.budget_minutes must be > 0 or null"),
        ("noequals", "must look like key.path=value"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert message in str(err.value)


def test_fp32_serving_needs_no_int8_model():
    cfg = load_config(
        overrides=["registry.serve_variant=fp32", "export.quantize_int8=false", "benchmark.runtimes=[onnx]"]
    )
    assert (cfg.registry.serve_variant, cfg.export.quantize_int8) == ("fp32", False)


def test_without_the_promote_step_a_benchmark_of_int8_alone_is_fine():
    cfg = load_config(overrides=["benchmark.runtimes=[onnx-int8]", "registry.enabled=false"])
    assert cfg.benchmark.runtimes == ["onnx-int8"]


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


def test_relative_paths_in_a_config_file_resolve_against_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project" / "configs"
    folder.mkdir(parents=True)
    (folder / "my-teacher").mkdir()
    (folder / "task.yaml").write_text(
        "output_dir: ../runs\n"
        "data: {train_file: data/train.csv, test_file: s3://bucket/test.csv}\n"
        "pretrain: {corpus: [corpus.txt, /abs/corpus.txt], cache_dir: cache}\n"
        "teacher: {checkpoint: my-teacher}\n"
        "tracking: {tracking_uri: 'sqlite:///mlflow.db'}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("SLIMNLP_DATA_DIR", raising=False)
    cfg = load_config(Path("../project/configs/task.yaml"))
    assert cfg.output_dir == str(tmp_path / "project" / "runs")
    assert cfg.data.train_file == str(folder / "data" / "train.csv")
    assert cfg.data.test_file == "s3://bucket/test.csv"  # URIs untouched
    assert cfg.pretrain.corpus == [str(folder / "corpus.txt"), "/abs/corpus.txt"]
    assert cfg.pretrain.cache_dir == str(folder / "cache")
    assert cfg.teacher.checkpoint == str(folder / "my-teacher")
    assert cfg.tracking.tracking_uri == f"sqlite:///{folder / 'mlflow.db'}"
    # a checkpoint that is not a path there is a model hub name, kept as written
    (folder / "hub.yaml").write_text("teacher: {checkpoint: l3cube-pune/marathi-bert-v2}\n")
    assert load_config(folder / "hub.yaml").teacher.checkpoint == "l3cube-pune/marathi-bert-v2"


def test_data_dir_resolves_against_the_config_and_set_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "task.yaml"
    path.write_text("data: {dir: ../data, train_file: train.csv}\n")
    monkeypatch.chdir(tmp_path / "configs")
    monkeypatch.delenv("SLIMNLP_DATA_DIR", raising=False)
    cfg = load_config(path)
    assert (
        cfg.data.dir == str(tmp_path / "data") and cfg.data.train_file == "train.csv"
    )  # names stay under dir
    assert load_config(path, ["data.dir=local"]).data.dir == str(tmp_path / "configs" / "local")
    # no data.dir in the file: file names are next to the config, unless the environment names a dir
    path.write_text("data: {train_file: train.csv}\n")
    assert load_config(path).data.train_file == str(tmp_path / "configs" / "train.csv")
    monkeypatch.setenv("SLIMNLP_DATA_DIR", str(tmp_path / "env"))
    from_env = load_config(path)
    assert (from_env.data.dir, from_env.data.train_file) == (str(tmp_path / "env"), "train.csv")


def test_shipped_configs_point_at_the_shared_data_from_any_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLIMNLP_DATA_DIR", raising=False)
    cfg = load_config(ROOT / "configs" / "mahanews-shc.yaml")
    assert cfg.data.dir == str((ROOT.parent / "shared" / "data" / "mahanews-shc").resolve())
    assert load_config(ROOT / "benchmarks" / "shc.yaml").pretrain.corpus == [
        str((ROOT.parent / "shared" / "data" / "corpus" / "marathi.txt").resolve())
    ]
