"""benchmarks/data_scale.py runs end to end on a small generated file: the after path's row in the
table, per-phase peaks, and (where this machine allows a memory cgroup) the run inside a limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "data_scale.py"


def run_script(tmp_path: Path, *extra: str) -> tuple[list[str], dict]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "3000", "--paths", "after", "--work", str(tmp_path), *extra],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    return lines, json.loads(lines[-1])[0]["after"]


def test_the_after_path_prints_its_row_with_peaks_per_phase(tmp_path: Path) -> None:
    lines, after = run_script(tmp_path)
    row = next(line for line in lines if line.startswith("| 3,000 | after |"))
    assert after["train_rows"] > 2000 and f"{after['train_rows']:,}" in row
    assert after["tokens"] > after["train_rows"] * 6  # 6-14 words a text, each at least one token
    for phase in ("imports", "prepare", "loader"):
        assert 50 < after[f"{phase}_anon_mib"] <= after["peak_anon_mib"]
    assert after["peak_anon_mib"] == max(after[f"{p}_anon_mib"] for p in ("imports", "prepare", "loader"))
    assert f"({after['imports_anon_mib']:.0f} / {after['prepare_anon_mib']:.0f} /" in row


def _cgroup_writable() -> bool:
    """Whether a memory cgroup with a limit can be made here (root, a writable cgroup file system)."""
    sys.path.insert(0, str(SCRIPT.parent))
    from data_scale import MemoryLimit

    try:
        MemoryLimit(64, "probe").close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _cgroup_writable(), reason="needs a writable memory cgroup (root on Linux)")
def test_a_memory_limit_charges_the_run_to_a_cgroup(tmp_path: Path) -> None:
    lines, after = run_script(tmp_path, "--memory-limit", "2048")
    assert 0 < after["cgroup_peak_mib"] <= 2048 and after["oom_kills"] == 0
    assert after["cgroup_peak_mib"] >= after["peak_anon_mib"] * 0.9  # the process's memory is charged
    assert "cgroup peak" in next(line for line in lines if line.startswith("| 3,000 | after |"))
