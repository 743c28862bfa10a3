"""Preflight (slimnlp.preflight): one message per problem, naming the key and the fix, in seconds.

Real parts: files on disk, a tiny model saved by transformers, a real S3 server (SeaweedFS), a port
nobody listens on for the tracking server.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest

from slimnlp.config import load_config
from slimnlp.preflight import preflight, safetensors_problem
from slimnlp_pipelines.cli import main


def cfg_for(tmp_path: Path, *overrides: str):
    return load_config(None, [f"output_dir={tmp_path / 'runs'}", "name=p", *overrides])


def keys(problems) -> list[str]:
    return [p.key for p in problems]


def write_csv(path: Path, header: str = "text,label") -> Path:
    path.write_text(f"{header}\nएक,a\nदोन,b\n", encoding="utf-8")
    return path


def test_default_run_passes_within_seconds(tmp_path):
    start = time.perf_counter()
    assert preflight(cfg_for(tmp_path)) == []
    assert time.perf_counter() - start < 5


def test_missing_file_and_wrong_columns_name_the_keys(tmp_path):
    problems = preflight(cfg_for(tmp_path, f"data.train_file={tmp_path / 'nope.csv'}"))
    assert keys(problems) == ["data.train_file"] and "nope.csv does not exist" in problems[0].message
    train = write_csv(tmp_path / "train.csv", header="sentence,category")
    problems = preflight(cfg_for(tmp_path, f"data.train_file={train}"))
    assert keys(problems) == ["data.text_column", "data.label_column"]
    assert "['sentence', 'category']" in problems[0].message and "set data.text_column" in problems[0].message
    fixed = cfg_for(
        tmp_path, f"data.train_file={train}", "data.text_column=sentence", "data.label_column=category"
    )
    assert preflight(fixed) == []


def test_data_dir_files_are_found_and_checked(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "train.csv")
    write_csv(data / "test.csv", header="text,labels")
    problems = preflight(cfg_for(tmp_path, f"data.dir={data}"))
    assert keys(problems) == ["data.label_column"] and "test.csv" in problems[0].message


def test_truncated_teacher_checkpoint_is_caught_from_its_header(tmp_path):
    from tests.helpers_models import tiny_model_dir

    teacher = tmp_path / "teacher"
    shutil.copytree(tiny_model_dir("teacher"), teacher)
    assert preflight(cfg_for(tmp_path, f"teacher.checkpoint={teacher}")) == []
    weights = teacher / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as handle:
        handle.truncate(size // 2)
    problems = preflight(cfg_for(tmp_path, f"teacher.checkpoint={teacher}"))
    assert keys(problems) == ["teacher.checkpoint"]
    assert "is truncated" in problems[0].message and f"{size // 2:,} bytes" in problems[0].message
    weights.write_bytes(b"\x01\x02")
    assert "not a readable safetensors file" in safetensors_problem(weights)


def test_teacher_that_cannot_resolve(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    problems = preflight(cfg_for(tmp_path, "teacher.checkpoint=nobody/no-such-model-xyz"))
    assert keys(problems) == ["teacher.checkpoint"]
    assert "not in the Hugging Face cache" in problems[0].message and "HF_HUB_OFFLINE" in problems[0].message
    problems = preflight(cfg_for(tmp_path, f"teacher.checkpoint={tmp_path / 'missing' / 'model'}"))
    assert keys(problems) == ["teacher.checkpoint"] and "does not exist" in problems[0].message


def test_tracking_server_that_does_not_answer(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        problems = preflight(cfg_for(tmp_path, f"tracking.tracking_uri=http://127.0.0.1:{port}"))
    assert keys(problems) == ["tracking.tracking_uri"]
    assert "does not answer" in problems[0].message and "slimnlp mlflow-server" in problems[0].message


def test_tracking_server_that_answers(tmp_path, mlflow_server):
    assert preflight(cfg_for(tmp_path, f"tracking.tracking_uri={mlflow_server.url}")) == []


def test_s3_credentials_bucket_and_object(tmp_path, s3_env, monkeypatch):
    bucket = s3_env.create_bucket("preflight")
    s3_env.client().put_object(Bucket=bucket, Key="d/train.csv", Body=b"text,label\n")
    good = f"data.train_file=s3://{bucket}/d/train.csv"
    assert preflight(cfg_for(tmp_path, good)) == []
    problems = preflight(cfg_for(tmp_path, f"data.train_file=s3://{bucket}/d/nope.csv"))
    assert keys(problems) == ["data.train_file"] and "no such object" in problems[0].message
    problems = preflight(cfg_for(tmp_path, "data.train_file=s3://no-such-bucket-x/train.csv"))
    assert keys(problems) == ["data.train_file"] and "bucket" in problems[0].message
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-123")
    problems = preflight(cfg_for(tmp_path, good, f"teacher.checkpoint=s3://{bucket}/teacher/"))
    assert keys(problems) == ["data.train_file", "teacher.checkpoint"]
    assert "access denied" in problems[0].message and "AWS_SECRET_ACCESS_KEY" in problems[0].message
    assert all("wrong-secret-123" not in str(p) for p in problems)


def test_output_folder_not_writable_or_too_small(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    problems = preflight(load_config(None, [f"output_dir={blocker / 'runs'}"]))
    assert keys(problems) == ["output_dir"] and "cannot write" in problems[0].message
    huge = ["teacher.vocab_size=20000000", "teacher.hidden_size=4096"]  # ~4 TB estimated
    problems = preflight(cfg_for(tmp_path, *huge))
    assert keys(problems) == ["output_dir"] and "free" in problems[0].message
    assert "set output_dir elsewhere" in problems[0].message


def test_run_stops_before_any_step_with_one_line_per_problem(tmp_path, capsys):
    code = main(
        [
            "run",
            "--set",
            f"output_dir={tmp_path / 'runs'}",
            "--set",
            f"data.train_file={tmp_path / 'nope.csv'}",
            "--set",
            f"teacher.checkpoint={tmp_path / 'no-teacher'}",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "preflight found 2 problem(s)" in err
    assert "  - data.train_file: " in err and "  - teacher.checkpoint: " in err
    assert not (tmp_path / "runs" / "marathi-sample" / "kfp").exists()


def test_preflight_verb(tmp_path, capsys):
    assert main(["preflight", "--set", f"output_dir={tmp_path}"]) == 0
    assert "preflight: no problems" in capsys.readouterr().out


@pytest.mark.parametrize("header", ["text,label", "label\ttext"])
def test_read_columns_reads_only_the_header(tmp_path, header):
    from slimnlp.preflight import read_columns

    path = tmp_path / ("f.tsv" if "\t" in header else "f.csv")
    path.write_text(header + "\n" + "x" * 10_000_000 + "\n")  # a huge row is never read
    start = time.perf_counter()
    assert read_columns(path, "tsv" if "\t" in header else "csv") == header.replace("\t", ",").split(",")
    assert time.perf_counter() - start < 1
