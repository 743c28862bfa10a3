"""benchmark on a tiny teacher and its pruned student, in PyTorch, ONNX and ONNX int8, beside a
TF-IDF baseline; extra sequence lengths; bad inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from slimnlp.benchmark.baselines import train_tfidf_baseline
from slimnlp.benchmark.harness import Variant, benchmark_models, format_table
from slimnlp.benchmark.memory import peak_memory
from slimnlp.config import BenchmarkConfig, ConfigError
from slimnlp.export.onnx import INT8_FILE, ONNX_FILE
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS, tiny_model_dir, tiny_onnx_export

FAST = BenchmarkConfig(
    batch_sizes=[1, 32],
    sequence_length=16,
    sequence_lengths=[8, 32],
    rounds=2,
    iterations=3,
    warmup=1,
    threads=1,
    peak_memory="off",
    energy=False,
)


def tiny_variants(kind: str) -> list[Variant]:
    model_dir = tiny_model_dir(kind)
    onnx_dir, _ = tiny_onnx_export(kind)
    common = {"role": kind, "model_dir": str(model_dir)}
    return [
        Variant(f"{kind}-pt", "pytorch", str(model_dir), str(model_dir), **common),
        Variant(f"{kind}-onnx", "onnx", str(onnx_dir / ONNX_FILE), str(onnx_dir), **common),
        Variant(f"{kind}-int8", "onnx-int8", str(onnx_dir / INT8_FILE), str(onnx_dir), **common),
    ]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    tfidf = train_tfidf_baseline(TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, out / "tfidf")
    baseline = Variant("tfidf", "sklearn", str(tfidf), str(tfidf), "baseline", str(tfidf))
    variants = tiny_variants("teacher") + tiny_variants("student") + [baseline]
    return benchmark_models(variants, TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, out, progress=False)


def test_every_row_has_sane_numbers(results: dict) -> None:
    rows = {row["name"]: row for row in results["rows"]}
    assert len(rows) == 7
    for row in rows.values():
        assert 0.0 <= row["accuracy"] <= 1.0 and 0.0 <= row["macro_f1"] <= 1.0
        for label in TINY_ID2LABEL.values():
            p, r, f1 = row[f"precision_{label}"], row[f"recall_{label}"], row[f"f1_{label}"]
            assert f1 == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
        assert 0.0 <= row["agreement_with_teacher"] <= 1.0
        for batch in FAST.batch_sizes:
            p50, p95, p99 = (row[f"latency_b{batch}_p{q}_ms"] for q in (50, 95, 99))
            assert p99 >= p95 >= p50 > 0
            assert row[f"throughput_b{batch}"] > 0
            if row["runtime"] != "sklearn":
                assert row[f"latency_b{batch}_s8_p50_ms"] > 0 and row[f"latency_b{batch}_s32_p50_ms"] > 0
        assert row["size_bytes"] > 0 and row["gflops_per_sequence"] > 0
        assert row["params_embeddings"] + row["params_non_embedding"] == row["params_total"]
    samples = results["latency_samples_ms"]["student-onnx"]
    assert sorted(samples) == ["1", "1@32", "1@8", "1@real", "32", "32@32", "32@8", "32@real"]
    assert all(len(times) == FAST.rounds * FAST.iterations for times in samples.values())


def test_length_table_shows_fixed_and_real_lengths(results: dict) -> None:
    from slimnlp.benchmark.tables import length_table

    header, rows = length_table(results)
    assert header[-2:] == ["b1 × real lengths", "b32 × real lengths"]
    teacher = next(r for r in rows if r[0] == "teacher-onnx")
    row = next(r for r in results["rows"] if r["name"] == "teacher-onnx")
    assert teacher[-1] == f"{row['latency_b32_sreal_p50_ms']:.2f}"
    assert "tfidf" not in [r[0] for r in rows]


def test_longer_sequences_cost_more_flops_and_time(results: dict) -> None:
    teacher = next(row for row in results["rows"] if row["name"] == "teacher-onnx")
    # 32 tokens is 4x the work of 8 at batch 32; allow noise on a shared machine.
    assert teacher["latency_b32_s32_p50_ms"] > 1.5 * teacher["latency_b32_s8_p50_ms"]


def test_tfidf_baseline_row_and_the_verdict(results: dict) -> None:
    rows = {row["name"]: row for row in results["rows"]}
    tfidf = rows["tfidf"]
    assert tfidf["role"] == "baseline" and tfidf["runtime"] == "sklearn"
    assert tfidf["accuracy"] == 1.0  # trained and tested on the same 24 texts: it memorises them
    assert "speedup_vs_teacher_b32" not in tfidf
    summary = results["summary"]
    best = rows[summary["best_student"]]
    assert best["role"] == "student"
    assert best["accuracy"] == max(r["accuracy"] for r in rows.values() if r["role"] == "student")
    assert set(summary["versus"]) == {"teacher-pt", "teacher-onnx", "teacher-int8", "tfidf"}
    versus = summary["versus"]["tfidf"]
    assert versus["accuracy_delta"] == pytest.approx(best["accuracy"] - 1.0)
    assert versus["speedup"]["min"] <= versus["speedup"]["median"] <= versus["speedup"]["max"]
    assert summary["verdicts"][0].startswith("The cheap baseline wins: tfidf reaches accuracy 1.000")
    assert rows["tfidf"]["pareto"]  # most accurate of all: nothing dominates it


def test_student_is_smaller_and_compared_in_its_own_runtime(results: dict) -> None:
    rows = {row["name"]: row for row in results["rows"]}
    for runtime in ("pt", "onnx", "int8"):
        teacher, student = rows[f"teacher-{runtime}"], rows[f"student-{runtime}"]
        assert student["params_total"] < teacher["params_total"]
        assert student["gflops_per_sequence"] < teacher["gflops_per_sequence"]
        expected = teacher["latency_b32_p50_ms"] / student["latency_b32_p50_ms"]
        assert student["speedup_vs_teacher_b32"] == pytest.approx(expected)
        assert student["accuracy_delta_vs_teacher"] == pytest.approx(
            student["accuracy"] - teacher["accuracy"]
        )
        assert "speedup_vs_teacher_b32" not in teacher
    assert rows["teacher-pt"]["agreement_with_teacher"] == 1.0
    assert rows["teacher-onnx"]["agreement_with_teacher"] == 1.0  # fp32 export keeps every prediction
    assert rows["teacher-int8"]["size_bytes"] < rows["teacher-onnx"]["size_bytes"]


def test_environment_is_recorded(results: dict) -> None:
    env = results["environment"]
    assert env["cpu_model"] and env["threads"] == FAST.threads
    assert "avx512_vnni" in env["isa_flags"] and "amx_tile" in env["isa_flags"]
    assert env["torch"] and env["onnxruntime"]
    assert "gpu_model" in env  # None on a CPU-only machine


def test_report_files_are_written(results: dict) -> None:
    files = {kind: Path(path) for kind, path in results["files"].items()}
    for kind in ("json", "markdown", "csv", "html", "plot", "size_plot", "confusion:student-int8"):
        assert files[kind].is_file() and files[kind].stat().st_size > 0, kind
    assert files["plot"].read_bytes().startswith(b"\x89PNG")
    saved = json.loads(files["json"].read_text(encoding="utf-8"))
    assert [row["name"] for row in saved["rows"]] == [row["name"] for row in results["rows"]]
    with files["csv"].open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 7
    text = files["markdown"].read_text(encoding="utf-8")
    assert "| student-int8 | onnx-int8 | student |" in text and "| tfidf | sklearn | baseline |" in text
    assert (
        "**The cheap baseline wins" in text
        and "![Accuracy vs latency (Pareto front)](accuracy_vs_latency.png)" in text
    )
    assert "## p50 latency (ms) by sequence length" in text
    assert "energy_plot" not in files  # energy was off


def test_format_table_names_every_variant(results: dict) -> None:
    table = format_table(results)
    for row in results["rows"]:
        assert row["name"] in table
    assert "speed-up" in table and "x" in table.splitlines()[-3]


def test_runtimes_not_configured_are_skipped(tmp_path: Path) -> None:
    cfg = BenchmarkConfig(
        batch_sizes=[2],
        sequence_length=8,
        rounds=1,
        iterations=1,
        warmup=0,
        threads=1,
        runtimes=["onnx"],
        peak_memory="off",
    )
    variants = tiny_variants("student")
    out = benchmark_models(
        variants, TINY_TEXTS[:6], TINY_LABELS[:6], TINY_ID2LABEL, cfg, tmp_path, progress=False
    )
    assert [row["name"] for row in out["rows"]] == ["student-onnx"]
    assert out["skipped"] == ["student-pt", "student-int8"]
    assert "agreement_with_teacher" not in out["rows"][0]  # no teacher to agree with


def test_a_test_set_with_repeats_is_also_scored_per_distinct_text(tmp_path: Path) -> None:
    cfg = BenchmarkConfig(
        batch_sizes=[2], sequence_length=8, rounds=1, iterations=1, warmup=0, threads=1,
        runtimes=["onnx"], peak_memory="off", energy=False,
    )  # fmt: skip
    texts, labels = TINY_TEXTS[:6] + [TINY_TEXTS[0]] * 4, TINY_LABELS[:6] + [TINY_LABELS[0]] * 4
    out = benchmark_models(
        tiny_variants("student"), texts, labels, TINY_ID2LABEL, cfg, tmp_path, progress=False
    )
    row = out["rows"][0]
    once = benchmark_models(
        tiny_variants("student"), TINY_TEXTS[:6], TINY_LABELS[:6], TINY_ID2LABEL, cfg, tmp_path / "once",
        progress=False,
    )["rows"][0]  # fmt: skip
    assert row["distinct_texts"] == 6 and "accuracy_distinct" not in once
    assert row["accuracy_distinct"] == pytest.approx(once["accuracy"])
    assert row["macro_f1_distinct"] == pytest.approx(once["macro_f1"])
    assert "Accuracy (distinct texts)" in Path(out["files"]["markdown"]).read_text(encoding="utf-8")


def test_peak_memory_in_a_fresh_process() -> None:
    cfg = BenchmarkConfig(sequence_length=16, threads=1)
    memory = peak_memory(tiny_variants("student")[1], TINY_TEXTS[:4], cfg)
    assert memory["peak_rss_mb"] > memory["peak_rss_delta_mb"] >= 0


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    variant = tiny_variants("student")[1]
    missing = Variant("ghost", "onnx", str(tmp_path / "none.onnx"), str(tmp_path), "student", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="none.onnx"):
        benchmark_models([missing], TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, tmp_path, progress=False)
    with pytest.raises(ValueError, match="unique"):
        benchmark_models([variant, variant], TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, tmp_path)
    with pytest.raises(ValueError, match="not in id2label"):
        benchmark_models([variant], TINY_TEXTS[:1], [7], TINY_ID2LABEL, FAST, tmp_path)
    with pytest.raises(ConfigError, match="peak_memory"):
        BenchmarkConfig(peak_memory="sometimes")
    with pytest.raises(ConfigError, match="sequence_lengths"):
        BenchmarkConfig(sequence_lengths=[0, 64])


def test_a_directory_that_is_not_a_model_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model", encoding="utf-8")
    bogus = Variant("bogus", "pytorch", str(tmp_path), str(tmp_path), "student", str(tmp_path))
    with pytest.raises(ValueError, match=f"{tmp_path} is not a model directory"):
        benchmark_models(
            [bogus], TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, tmp_path / "o", progress=False
        )
    baseline = Variant("tfidf", "sklearn", str(tmp_path), str(tmp_path), "baseline", str(tmp_path))
    with pytest.raises(ValueError, match=f"{tmp_path} is not a TF-IDF baseline"):
        benchmark_models(
            [baseline], TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, tmp_path / "o", progress=False
        )


def test_an_onnx_file_that_does_not_fit_the_tokenizer_is_named(tmp_path: Path) -> None:
    # The student's ONNX takes input_ids + attention_mask; the teacher's tokenizer adds token_type_ids.
    onnx_file = tiny_onnx_export("student")[0] / ONNX_FILE
    teacher_tokenizer = tiny_model_dir("teacher")
    wrong = Variant(
        "wrong", "onnx", str(onnx_file), str(teacher_tokenizer), "student", str(teacher_tokenizer)
    )
    with pytest.raises(
        ValueError, match=f"{onnx_file} takes inputs .* but the tokenizer in {teacher_tokenizer}"
    ):
        benchmark_models([wrong], TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, tmp_path, progress=False)


def test_an_empty_test_set_is_a_clear_error(tmp_path: Path) -> None:
    variant = tiny_variants("student")[1]
    with pytest.raises(ValueError, match="is the test split empty"):
        benchmark_models([variant], [], [], TINY_ID2LABEL, FAST, tmp_path, progress=False)


def test_the_benchmark_step_names_an_empty_test_split(tmp_path: Path) -> None:
    from slimnlp import steps
    from slimnlp.config import load_config

    data = tmp_path / "data"
    data.mkdir()
    rows = [
        json.dumps({"text": t, "label": y}, ensure_ascii=False)
        for t, y in zip(TINY_TEXTS, TINY_LABELS, strict=True)
    ]
    for split, lines in (("train", rows), ("dev", rows[:6]), ("test", [])):
        (data / f"{split}.jsonl").write_text("\n".join(lines), encoding="utf-8")
    label_map = {"id2label": {str(i): n for i, n in TINY_ID2LABEL.items()}}
    label_map["label2id"] = {n: i for i, n in TINY_ID2LABEL.items()}
    (data / "label_map.json").write_text(json.dumps(label_map), encoding="utf-8")
    cfg = load_config(
        overrides=[
            f"output_dir={tmp_path}",
            f"tracking.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
            "tracking.codecarbon=false",
        ]
    )
    student, onnx_dir = tiny_model_dir("student"), tiny_onnx_export("student")[0]
    with pytest.raises(ValueError, match=f"the test split {data} is empty"):
        steps.benchmark(cfg, data, tiny_model_dir("teacher"), student, onnx_dir, tmp_path / "bench")


def test_a_busy_machine_is_said_plainly() -> None:
    from slimnlp.benchmark.compare import busy_machine

    assert (
        "busy (load average 5.0 on 2 CPUs)" in busy_machine({"load_average_1m": 5.0, "cpus_available": 2})[0]
    )
    assert busy_machine({"load_average_1m": 1.5, "cpus_available": 2}) == []
    assert busy_machine({}) == []


def test_one_cell_format_for_every_table() -> None:
    from slimnlp.benchmark.tables import cell, markdown_lines

    assert [cell(None), cell(True), cell(0.123456), cell(float("nan")), cell([4, 3]), cell([])] == [
        "-",
        "yes",
        "0.1235",
        "-",
        "4/3",
        "-",
    ]
    assert [cell(None, ".2f"), cell(1.5, ".2f"), cell(float("inf"), ",.0f"), cell(12345, ",")] == [
        "-",
        "1.50",
        "never",
        "12,345",
    ]
    assert markdown_lines(["a", "b"], [["1", "2"]]) == ["| a | b |", "|---|---|", "| 1 | 2 |"]
    assert markdown_lines([], []) == []
