"""Write tests/config/before.json: every shipped config's values (and the built-in defaults) of the
sections the base-class refactor touched, as loaded by the code before it (issue 24).

    python tests/config/make_fixture.py      # from the repository root, SLIMNLP_DATA_DIR unset

Local paths are stored relative to the checkout (`<root>`) and its parent (`<parent>`), so the
fixture holds wherever the repository lives. Each file's sha256 is kept: a config edited since is
compared on its defaults only (the test says so).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).with_name("before.json")
# Sections whose classes moved onto the shared base (prune and data last, issue 24).
SECTIONS = (
    "name",
    "output_dir",
    "seed",
    "pretrain",
    "teacher",
    "distill",
    "finetune_amp",
    "export",
    "benchmark",
    "tracking",
    "registry",
    "kubernetes",
    "grid",
    "prune",
    "data",
)


def config_files() -> list[Path]:
    return sorted((ROOT / "configs").glob("*.yaml")) + sorted((ROOT / "benchmarks").glob("*.yaml"))


def portable(values: dict) -> dict:
    """`values` restricted to SECTIONS, local paths written relative to the checkout."""
    text = json.dumps({k: values[k] for k in SECTIONS}, sort_keys=True)
    return json.loads(text.replace(str(ROOT), "<root>").replace(str(ROOT.parent), "<parent>"))


def snapshot() -> dict:
    from slimnlp.config import load_config

    files = {
        str(path.relative_to(ROOT)): {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "values": portable(load_config(path).to_dict()),
        }
        for path in config_files()
    }
    return {"defaults": portable(load_config().to_dict()), "files": files}


if __name__ == "__main__":
    os.environ.pop("SLIMNLP_DATA_DIR", None)
    FIXTURE.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE}")
