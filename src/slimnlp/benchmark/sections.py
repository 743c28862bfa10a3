"""Report sections that earlier steps leave for the benchmark's report (e.g. the NAS Pareto front).

    sections = upstream_sections(client, parent_run_id, out_dir)   # [{"title", "text", "header", "rows", "images"}]

A step that wants its own section in report.html writes `<artifact folder>/report_section.json`
({"title", "text", "header", "rows", "images": [png names beside it]}) and logs the folder to its
MLflow run; the benchmark step finds every such file among its sibling step runs, copies the images
into its own output (so results.json keeps working when rebuilt with `slimnlp report`) and the report
shows each section after the main plots. No step is named here: `prune` with method nas writes one
under `prune_artifacts/`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

SECTION_FILE = "report_section.json"
log = logging.getLogger(__name__)


def _section_files(client: Any, run_id: str, path: str = "") -> list[str]:
    found = []
    for item in client.list_artifacts(run_id, path or None):
        if item.is_dir:
            found += _section_files(client, run_id, item.path)
        elif item.path.endswith(SECTION_FILE):
            found.append(item.path)
    return found


def upstream_sections(client: Any, parent_run_id: str, out_dir: Path) -> list[dict[str, Any]]:
    """Every report section logged by a FINISHED step run under `parent_run_id` (latest per step)."""
    parent = client.get_run(parent_run_id)
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    sections, seen = [], set()
    for run in runs:
        step = run.data.tags.get("slimnlp.step", run.info.run_name)
        if step in seen or step == "benchmark":
            continue
        seen.add(step)
        for artifact in _section_files(client, run.info.run_id):
            try:
                sections.append(_download(client, run.info.run_id, artifact, out_dir / step))
            except (OSError, ValueError, KeyError) as err:  # a broken section must not sink the benchmark
                log.warning("report section %s of step %s skipped: %s", artifact, step, err)
    return sections


def _download(client: Any, run_id: str, artifact: str, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    local = Path(client.download_artifacts(run_id, artifact, str(out)))
    section = json.loads(local.read_text(encoding="utf-8"))
    folder = artifact.rsplit("/", 1)[0] if "/" in artifact else ""
    images = {}
    for name in section.get("images", []):
        remote = f"{folder}/{name}" if folder else name
        images[name] = str(Path(client.download_artifacts(run_id, remote, str(out))).resolve())
    return {
        "title": str(section["title"]),
        "text": str(section.get("text", "")),
        "header": [str(h) for h in section.get("header", [])],
        "rows": [[str(c) for c in row] for row in section.get("rows", [])],
        "images": images,
    }
