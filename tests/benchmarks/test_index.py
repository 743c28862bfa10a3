"""benchmarks/README.md indexes every study script and data file of benchmarks/ (issue 24)."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_every_benchmark_file_is_in_the_index():
    index = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    files = [p.name for p in BENCHMARKS.iterdir() if p.suffix in (".py", ".yaml", ".mk")]
    assert len(files) >= 14
    missing = [name for name in sorted(files) if f"`{name}`" not in index]
    assert missing == [], f"benchmarks/README.md does not name {missing}: add a row to its table"
