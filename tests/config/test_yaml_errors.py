"""A config file with a YAML syntax error: one line naming the file, line and column, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from slimnlp.config import ConfigError, load_config
from slimnlp_pipelines.cli import main


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (
            "name: x\nteacher:\n  epochs: 3\n   batch_size: 4\n",
            ":4:14:",
            "mapping values are not allowed here",
        ),
        ("name: [x\n", ":2:1:", "expected ',' or ']'"),
        ("teacher:\n\tepochs: 2\n", ":2:1:", "found character '\\t' that cannot start any token"),
    ],
)
def test_load_config_names_file_line_and_column(tmp_path, text, where, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}{where} YAML syntax error: ") and problem in message
    assert "\n" not in message


def test_preflight_prints_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("teacher:\n  epochs: [1, 2\n", encoding="utf-8")
    assert main(["preflight", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:3:1: YAML syntax error: ") and err.count("\n") == 1


def test_run_in_a_fresh_process_shows_no_traceback(tmp_path):
    """What a person sees: `slimnlp run --config bad.yaml` in a shell."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: demo\ndata:\n  dir: ./data\n  text_column: 'text\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "slimnlp_pipelines.cli", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SLIMNLP_DATA_DIR": ""},
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(f"error: {path}:") and "YAML syntax error" in lines[0]


def test_a_bad_set_value_is_one_line_too(capsys):
    assert main(["preflight", "--set", "teacher.epochs=[1,"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: --set 'teacher.epochs=[1,': the value is not valid YAML")
        and err.count("\n") == 1
    )
