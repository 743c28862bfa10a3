"""The calibration stage: sources, mixes, what the run records, and errors that name the source."""

from __future__ import annotations

import json

import pytest

from slimnlp.config import CalibrationConfig, ConfigError, load_config
from slimnlp.prune.oneshot import CalibrationError, load_calibration
from tests.helpers_models import TINY_TEXTS, tiny_tokenizer

HINDI = ["एक विमान उतार रहा है।", "एक आदमी बांसुरी बजा रहा है।", "तीन आदमी शतरंज खेल रहे हैं।"] * 10


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def _load(tokenizer, sources, samples=16, train=TINY_TEXTS, **fields):
    cfg = CalibrationConfig(sources=[str(s) for s in sources], samples=samples, **fields)
    return load_calibration(cfg, train, tokenizer, seed=0, max_length=32)


def test_train_split_sampled_and_described(tokenizer):
    calibration = _load(tokenizer, ["train"], samples=10)
    assert len(calibration.texts) == 10 and set(calibration.texts) <= set(TINY_TEXTS)
    report = calibration.report
    assert report["samples"] == 10 and report["sources"] == ["train"]
    assert report["script_mix"]["DEVANAGARI"] == 1.0
    assert report["tokens"] == calibration.tokens > 10
    assert 0 <= report["unk_rate"] < 0.1


def test_a_mix_shares_the_samples_and_records_each_source(tokenizer, tmp_path):
    hindi = tmp_path / "hindi.txt"
    hindi.write_text("\n".join(HINDI) + "\n", encoding="utf-8")
    csv = tmp_path / "more" / "news.csv"
    csv.parent.mkdir()
    csv.write_text("headline,label\n" + "".join(f"{t},x\n" for t in TINY_TEXTS), encoding="utf-8")
    calibration = _load(tokenizer, [hindi, csv.parent], samples=11, text_column="headline")
    per_source = calibration.report["per_source"]
    assert [p["samples"] for p in per_source] == [6, 5]
    assert per_source[0]["available"] == len(HINDI) and per_source[1]["available"] == len(TINY_TEXTS)
    # Hindi words the Marathi tokenizer has not seen fall apart into characters or [UNK].
    assert per_source[0]["unk_rate"] >= per_source[1]["unk_rate"]


def test_empty_source_is_named(tokenizer, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"calibration source '.*empty\.txt'.*is empty"):
        _load(tokenizer, [empty])


def test_missing_source_is_named(tokenizer, tmp_path):
    with pytest.raises(CalibrationError, match=r"calibration source '.*nowhere\.txt'.*does not exist"):
        _load(tokenizer, [tmp_path / "nowhere.txt"])


def test_unreadable_source_names_file_and_line(tokenizer, tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("पहिली ओळ\n".encode() + "caf\xe9\n".encode("latin-1"))
    with pytest.raises(CalibrationError, match=r"latin1\.txt line 2 is not UTF-8"):
        _load(tokenizer, [bad])


def test_wrong_script_source_is_named(tokenizer, tmp_path):
    english = tmp_path / "english.txt"
    english.write_text("the market fell today\nthe team won the match\n", encoding="utf-8")
    with pytest.raises(
        CalibrationError, match=r"'.*english\.txt' is mostly LATIN script but the task's text is"
    ):
        _load(tokenizer, [english])


def test_a_source_the_tokenizer_cannot_read_is_named(tokenizer, tmp_path):
    chinese = tmp_path / "chinese.txt"
    chinese.write_text("股市今天下跌\n球队赢得了比赛\n", encoding="utf-8")
    # No task text to compare scripts with: the [UNK] rate catches it.
    with pytest.raises(
        CalibrationError, match=r"maps 100% of the tokens of calibration source '.*chinese\.txt'"
    ):
        _load(tokenizer, [chinese], train=[])


def test_calibration_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"prune.calibration.samples must be >= 1"):
        load_config(overrides=["prune.calibration.samples=0"])
    with pytest.raises(
        ConfigError, match=r"prune.calibration.sources must be a non-empty list, each .train., a file"
    ):
        load_config(overrides=["prune.calibration.sources=[]"])
    with pytest.raises(ConfigError, match=r"prune.wanda.pattern must be 'unstructured' or 'N:M'"):
        load_config(overrides=["prune.method=wanda", "prune.wanda.pattern=4:2"])


def test_the_prune_step_records_calibration_and_time(tmp_path, capsys):
    from slimnlp import models
    from slimnlp.config import config_from_dict
    from slimnlp.prune import PruneContext, get_pruner
    from tests.helpers_models import TINY_LABELS, build_tiny_model_dir

    model, tok = models.load_model_dir(build_tiny_model_dir(tmp_path / "teacher"))
    config = config_from_dict({"prune": {"method": "wanda", "calibration": {"samples": 12}}}).prune
    context = PruneContext(config=config, max_length=32, seed=0, progress=False, out_dir=tmp_path / "out")
    data = (TINY_TEXTS, TINY_LABELS)
    metrics = get_pruner("wanda").prune(model, tok, data, data, context).metrics()
    assert metrics["calibration_samples"] == 12 and metrics["calibration_script_devanagari"] == 1.0
    assert metrics["prune_seconds"] > 0 and "wall time" in capsys.readouterr().out
    saved = json.loads((tmp_path / "out" / "prune_artifacts" / "wanda.json").read_text(encoding="utf-8"))
    assert saved["calibration"]["sources"] == ["train"] and len(saved["layer_errors"]) == 12
