"""Faults in the input: a truncated teacher checkpoint, a 1 MB text row, a 100,000-row file.

Data-prep time and peak memory are measured in a fresh process (`_measured_prepare`), so the figure
is prepare-data's own and not the test session's; they go into the Reliability table of
benchmarks/RESULTS.md:

    .venv/bin/pytest tests/faults/test_data_faults.py -q -s     # prints the figures
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from slimnlp import models, steps
from slimnlp.config import load_config
from slimnlp.data.artifacts import read_split
from slimnlp.models.build import check_weight_files
from slimnlp.models.surgery import ModelDirError
from tests.helpers_models import TINY_PIPELINE_SETTINGS, build_tiny_model_dir

SAMPLE = Path(__file__).parents[2] / "src" / "slimnlp" / "data" / "sample" / "marathi_topics.csv"

MEASURE = """
import json, sys, time
from slimnlp.config import load_config
from slimnlp.data import prepare_data_files
import sklearn.model_selection  # imported by the split on first use: seconds that are not the data's

def status(key):
    line = next(l for l in open("/proc/self/status") if l.startswith(key))
    return int(line.split()[1]) / 1024

cfg = load_config(overrides=sys.argv[2:])
rss_before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to now: the imports' own peak is not prepare-data's
start = time.perf_counter()
report = prepare_data_files(cfg.data, sys.argv[1], progress=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_mib": status("VmHWM:"), "rss_before_mib": rss_before,
                  "train_rows": report["train_rows"], "dev_rows": report["dev_rows"],
                  "test_rows": report["test_rows"], "rows_read": report["rows_read"]}))
"""


def _measured_prepare(out: Path, *overrides: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(out), *overrides], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n{out.name}: {json.dumps(figures)}")
    return figures


def _sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


# --------------------------------------------------------------------------------------------------
# A truncated model.safetensors as teacher.checkpoint


def test_a_truncated_checkpoint_stops_train_teacher_with_the_file_named(tmp_path: Path) -> None:
    checkpoint = build_tiny_model_dir(tmp_path / "checkpoint")
    weights = checkpoint / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])  # an interrupted copy
    cfg = load_config(
        overrides=[
            *TINY_PIPELINE_SETTINGS,
            f"output_dir={tmp_path}",
            f"tracking.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
            f"teacher.checkpoint={checkpoint}",
        ]
    )
    steps.prepare_data(cfg, tmp_path / "data")
    with pytest.raises(ModelDirError) as err:
        steps.train_teacher(cfg, tmp_path / "data", tmp_path / "teacher")
    message = str(err.value)
    assert f"teacher.checkpoint '{checkpoint}'" in message and str(weights) in message
    assert f"{len(whole) // 2:,} bytes where its header describes {len(whole):,}" in message
    assert "Copy the model directory again" in message
    assert not (tmp_path / "teacher" / "model.safetensors").exists()  # nothing half-written downstream
    # a header cut off is named too, and the intact file still loads
    weights.write_bytes(whole[:4])
    with pytest.raises(ModelDirError, match="its header is cut off"):
        check_weight_files(checkpoint)
    weights.write_bytes(whole)
    check_weight_files(checkpoint)


# --------------------------------------------------------------------------------------------------
# A 1 MB text row


def test_a_one_megabyte_row_is_kept_and_truncated_by_the_tokenizer(tmp_path: Path) -> None:
    sample = _sample()
    words = " ".join(sample["text"]).split()
    huge = " ".join(random.Random(0).choice(words) for _ in range(70_000))[: 1024 * 1024]
    assert len(huge.encode()) >= 1024 * 1024  # 1 MB of UTF-8 (Devanagari takes 3 bytes a letter)
    rows = pd.concat([sample, pd.DataFrame({"text": [huge], "label": [sample["label"][0]]})])
    rows.to_csv(tmp_path / "train.csv", index=False)
    figures = _measured_prepare(tmp_path / "data", f"data.train_file={tmp_path / 'train.csv'}")
    assert figures["rows_read"] == len(sample) + 1
    texts = [t for split in ("train", "dev", "test") for t in read_split(tmp_path / "data", split)[0]]
    assert huge in texts  # kept whole in the prepared data: the tokenizer decides what the model sees
    assert figures["seconds"] < 60 and figures["peak_rss_mib"] - figures["rss_before_mib"] < 500
    tokenizer = models.train_wordpiece(texts, 1500, 32)
    assert len(tokenizer(huge, truncation=True)["input_ids"]) == 32


# --------------------------------------------------------------------------------------------------
# A 100,000-row file


def test_a_hundred_thousand_row_file_prepares_in_bounded_time_and_memory(tmp_path: Path) -> None:
    sample = _sample()
    by_label = {label: " ".join(group).split() for label, group in sample.groupby("label")["text"]}
    rng = random.Random(0)
    labels = sorted(by_label)
    rows = []
    for i in range(100_000):
        label = labels[i % len(labels)]
        rows.append((" ".join(rng.choice(by_label[label]) for _ in range(8)) + f" {i}", label))
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "big.csv", index=False)
    figures = _measured_prepare(tmp_path / "data", f"data.train_file={tmp_path / 'big.csv'}")
    assert figures["rows_read"] == 100_000
    assert figures["train_rows"] + figures["dev_rows"] + figures["test_rows"] == 100_000
    # 2 shared CPU cores: generous bounds that still catch a quadratic rule or a copy per row
    assert figures["seconds"] < 240, figures
    assert figures["peak_rss_mib"] - figures["rss_before_mib"] < 1024, figures
