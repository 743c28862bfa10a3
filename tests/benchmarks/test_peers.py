"""benchmarks/peers: the comparison logic against the noise, finding a run's outputs, and the writers.
No peer package is installed or imported here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from peers.compare import (  # noqa: E402
    AHEAD,
    BEHIND,
    LEVEL,
    Point,
    accuracy_noise,
    at_equal_accuracy,
    at_equal_latency,
    compare_all,
    round_spread,
)
from peers.report import markdown_table, write_outputs  # noqa: E402

N = 1500  # accuracy noise at ~0.7 on 1500 texts: 1.96 * sqrt(2 * 0.21 / 1500) = 0.033


def test_round_spread_is_max_minus_min_over_median_of_round_medians() -> None:
    samples = [10.0, 10.0, 12.0, 12.0, 11.0, 11.0]  # 3 rounds of 2: medians 10, 12, 11
    assert round_spread(samples, 3) == pytest.approx(2 / 11)
    assert round_spread(samples, 1) is None
    assert round_spread([5.0], 3) is None


def test_accuracy_noise_matches_the_two_proportion_standard_error() -> None:
    assert accuracy_noise(0.7, 0.7, N) == pytest.approx(1.96 * (2 * 0.21 / N) ** 0.5)
    with pytest.raises(ValueError, match="number of test texts"):
        accuracy_noise(0.7, 0.7, 0)


def test_equal_latency_picks_the_most_accurate_point_no_slower_within_the_spread() -> None:
    ours = [Point("student", 0.80, 2.0, 0.05), Point("teacher", 0.85, 8.0, 0.05)]
    # The peer at 1.95 ms: the student (2.0 ms) is within its 5 % spread, so it counts as equal latency.
    peer = Point("peer", 0.70, 1.95, 0.02)
    record = at_equal_latency(ours, peer, N)
    assert record["slimnlp_point"] == "student" and record["verdict"] == AHEAD
    assert record["accuracy_delta"] == pytest.approx(0.10)
    # With no spread, the student at 2.0 ms is slower than the peer at 1.95 ms: nothing qualifies.
    tight = at_equal_latency([Point("student", 0.80, 2.0, 0.0)], Point("peer", 0.70, 1.95, 0.0), N)
    assert (
        tight["slimnlp_point"] is None and tight["verdict"] == BEHIND and "no slimnlp point" in tight["why"]
    )
    # At 8 ms the teacher qualifies and is the most accurate.
    assert at_equal_latency(ours, Point("slow peer", 0.84, 9.0, 0.0), N)["slimnlp_point"] == "teacher"


def test_equal_latency_accuracy_verdicts_against_the_accuracy_noise() -> None:
    ours = [Point("student", 0.800, 1.0, 0.0)]
    noise = accuracy_noise(0.8, 0.8, N)
    assert at_equal_latency(ours, Point("p", 0.800 - noise / 2, 2.0), N)["verdict"] == LEVEL
    assert at_equal_latency(ours, Point("p", 0.800 + noise / 2, 2.0), N)["verdict"] == LEVEL
    assert at_equal_latency(ours, Point("p", 0.75, 2.0), N)["verdict"] == AHEAD
    assert at_equal_latency(ours, Point("p", 0.85, 2.0), N)["verdict"] == BEHIND


def test_equal_accuracy_speed_verdicts_against_the_round_spread() -> None:
    ours = [Point("student", 0.80, 2.0, 0.10), Point("teacher", 0.85, 8.0, 0.05)]
    # Peer as accurate as the student: speed-up 2.1 / 2.0 = 1.05 < 1 + 10 % spread -> level.
    level = at_equal_accuracy(ours, Point("peer", 0.80, 2.1, 0.02), N)
    assert level["slimnlp_point"] == "student" and level["verdict"] == LEVEL
    assert level["speedup"] == pytest.approx(1.05) and level["latency_noise"] == pytest.approx(0.10)
    assert at_equal_accuracy(ours, Point("peer", 0.80, 3.0, 0.02), N)["verdict"] == AHEAD
    assert at_equal_accuracy(ours, Point("peer", 0.80, 1.0, 0.02), N)["verdict"] == BEHIND
    # A peer more accurate than the student beyond the noise: only the teacher qualifies.
    assert at_equal_accuracy(ours, Point("peer", 0.85, 1.0, 0.0), N)["slimnlp_point"] == "teacher"
    # More accurate than every slimnlp point: behind, and why.
    best = at_equal_accuracy(ours, Point("tfidf-like", 0.95, 1.0, 0.0), N)
    assert best["slimnlp_point"] is None and best["verdict"] == BEHIND and "0.850" in best["why"]


def test_compare_all_needs_a_slimnlp_point() -> None:
    with pytest.raises(ValueError, match="--run"):
        compare_all([], [Point("p", 0.5, 1.0)], N)
    records = compare_all([Point("s", 0.8, 1.0, 0.0)], [Point("p", 0.7, 2.0, 0.0)], N)
    assert records[0]["peer"]["name"] == "p"
    assert (
        records[0]["equal_latency"]["verdict"] == AHEAD and records[0]["equal_accuracy"]["verdict"] == AHEAD
    )


def _result() -> dict:
    ours = [Point("slimnlp-student-int8", 0.80, 2.0, 0.05), Point("slimnlp-teacher-int8", 0.82, 6.0, 0.05)]
    peer = Point("model2vec-model2vec", 0.70, 0.5, 0.10)
    rows = [
        {
            "tool": "slimnlp",
            "group": "slimnlp",
            "name": p.name,
            "runtime": "onnx-int8",
            "accuracy": p.accuracy,
            "macro_f1": p.accuracy - 0.01,
            "accuracy_distinct": p.accuracy,
            "latency_b1_p50_ms": 1.0,
            "latency_b32_p50_ms": p.latency_ms,
            "size_bytes": 5_000_000,
            "peak_rss_mb": 300.0,
            "compression_s": 60.0,
        }
        for p in ours
    ]
    rows.append(
        {
            "tool": "model2vec",
            "group": "peer",
            "name": peer.name,
            "runtime": "model2vec",
            "accuracy": 0.70,
            "macro_f1": 0.69,
            "accuracy_distinct": 0.70,
            "latency_b1_p50_ms": 0.1,
            "latency_b32_p50_ms": 0.5,
            "size_bytes": 8_000_000,
            "peak_rss_mb": 250.0,
            "compression_s": 30.0,
        }
    )
    rows.append(
        {
            "tool": "textpruner",
            "group": "peer",
            "error": "install failed: No matching distribution | numpy==1.21.1",
        }
    )
    return {
        "title": "tiny: slimnlp and its peers",
        "batch_size": 32,
        "rows": rows,
        "comparisons": compare_all(ours, [peer], N),
        "notes": ["timed under load"],
        "front": [{"arch": "1x64", "accuracy": 0.78, "latency_ms": 1.5}],
        "selected": "1x64",
    }


def test_markdown_table_has_every_row_verdicts_and_the_failed_peer_reason() -> None:
    table = markdown_table(_result())
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + 4  # header, rule, 2 slimnlp rows, model2vec, textpruner
    m2v = next(line for line in lines if "model2vec-model2vec" in line)
    # At 0.5 ms no slimnlp point is as fast; at 0.70 accuracy the student is 0.5 / 2.0 = 0.25x: behind.
    assert "behind (no slimnlp point is as fast" in m2v and "behind: slimnlp-student-int8 0.25x" in m2v
    failed = next(line for line in lines if line.startswith("| textpruner"))
    assert "not run: install failed: No matching distribution / numpy==1.21.1" in failed  # '|' escaped
    assert "| 0.800 |" in table and "| 5.00 |" in table and "- timed under load" in table


def test_write_outputs_writes_table_json_and_a_png(tmp_path: Path) -> None:
    files = write_outputs(_result(), tmp_path / "out")
    assert sorted(p.name for p in files.values()) == ["peers.json", "peers.md", "peers.png"]
    assert files["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and files["plot"].stat().st_size > 10_000
    saved = json.loads(files["json"].read_text(encoding="utf-8"))
    assert saved["comparisons"][0]["equal_accuracy"]["verdict"] == BEHIND
    assert files["table"].read_text(encoding="utf-8") == markdown_table(_result())


def test_find_run_dirs_reads_step_outputs_and_kfp_runs(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("peers_script", BENCHMARKS / "peers.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    direct = tmp_path / "direct"
    for name in ("data", "teacher", "student"):
        (direct / name).mkdir(parents=True)
    found = script.find_run_dirs(direct)
    assert found["teacher"] == direct / "teacher" and found["onnx"] is None
    kfp = tmp_path / "kfp-run"
    steps = (
        ("prepare-data", "data"),
        ("train-teacher", "metrics"),
        ("train-teacher", "model"),
        ("export-onnx", "onnx"),
    )
    for step, artifact in steps:
        (kfp / "kfp" / "slimnlp-compress-1" / step / artifact).mkdir(parents=True)
    found = script.find_run_dirs(kfp)
    assert found["teacher"].name == "model" and found["onnx"].name == "onnx" and found["student"] is None
    assert found["distilled"] is None and found["recovered"] == []
    # a NAS run that recovered two candidates: select-student is the student, both recoveries count
    nas = tmp_path / "nas-run" / "kfp" / "slimnlp-compress-2"
    for step in ("train-teacher/model", "for-loop-2-iteration-0/recover-candidate/model",
                 "for-loop-2-iteration-1/recover-candidate/model", "select-student/model"):  # fmt: skip
        (nas / step).mkdir(parents=True)
    found = script.find_run_dirs(tmp_path / "nas-run")
    assert found["student"] == nas / "select-student" / "model"
    assert [p.parent.parent.name for p in found["recovered"]] == [
        "for-loop-2-iteration-0",
        "for-loop-2-iteration-1",
    ]
    # The NAS front of a prune output, at the reference batch size.
    folder = tmp_path / "pruned" / "prune_artifacts"
    folder.mkdir(parents=True)
    points = [
        {"arch": "1x64", "dev_accuracy": 0.7, "measured_ms_b32": 1.5},
        {"arch": "4x1024", "dev_accuracy": 0.8},
    ]
    (folder / "front.json").write_text(json.dumps({"points": points, "selected": "1x64"}), encoding="utf-8")
    front, selected = script.read_front(tmp_path / "pruned", 32)
    assert front == [{"arch": "1x64", "accuracy": 0.7, "latency_ms": 1.5}] and selected == "1x64"


def test_a_peer_that_does_not_install_becomes_a_row_saying_why(tmp_path: Path, monkeypatch) -> None:
    import argparse
    import importlib.util

    from peers.venvs import PeerInstallError

    spec = importlib.util.spec_from_file_location("peers_script", BENCHMARKS / "peers.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    def no_install(root, name, requirements, log, constrained=False):
        raise PeerInstallError(
            "pip install textpruner failed:\nERROR: No matching distribution found for numpy==1.21.1"
        )

    monkeypatch.setattr(script, "ensure_venv", no_install)
    args = argparse.Namespace(out=tmp_path, venvs=tmp_path / "venvs")
    rows = script.build_peer("textpruner", args, cfg=None, id2label={0: "a"})
    assert rows == [
        {
            "tool": "textpruner",
            "group": "peer",
            "error": "install failed: pip install textpruner failed:\nERROR: No matching distribution found for numpy==1.21.1",
        }
    ]
    table = markdown_table({"title": "t", "batch_size": 32, "rows": rows, "comparisons": []})
    assert "not run: install failed: pip install textpruner failed: ERROR: No matching distribution" in table


def test_peer_builders_read_the_prepared_arrow_splits(tmp_path: Path) -> None:
    """The builders run in the peers' own venvs and read prepare-data's Arrow splits with pyarrow."""
    import importlib.util

    import pandas as pd

    from slimnlp.data import read_split as slimnlp_read_split
    from slimnlp.data.artifacts import write_label_map, write_split

    spec = importlib.util.spec_from_file_location("peer_builders", BENCHMARKS / "peers" / "builders.py")
    builders = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builders)
    label2id = write_label_map(tmp_path, ["neg", "pos"])
    write_split(
        tmp_path,
        "train",
        pd.DataFrame({"text": ["वाईट", "छान", "छान चित्रपट"], "label": ["neg", "pos", "pos"]}),
        label2id,
    )
    assert (
        builders.read_split(tmp_path, "train")
        == slimnlp_read_split(tmp_path, "train")
        == (
            ["वाईट", "छान", "छान चित्रपट"],
            [0, 1, 1],
        )
    )
