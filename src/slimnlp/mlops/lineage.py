"""One lineage from a KFP run to MLflow: the pipeline's parent run carries the KFP run id, name and
UI URL; every step run and registered model version copies them.

    parent = open_pipeline_run(client, experiment_id, None, {"kfp.run_id": ..., ...}, "shc", config)
    tags = lineage_tags(client, parent)     # {"slimnlp.parent_run_id": ..., "kfp.run_id": ..., ...}

A step finds its parent run without it being a task input (which would change KFP's cache key every
run): from SLIMNLP_PARENT_RUN_ID (the local run sets it), MLFLOW_RUN_ID (injected), or the pipeline
run tagged with its KFP run id (SLIMNLP_KFP_RUN_ID: on a cluster the pod's `pipeline/runid` label,
through the downward API).
"""

from __future__ import annotations

import os
from typing import Any

KFP_RUN_ENV = "SLIMNLP_KFP_RUN_ID"
LINEAGE_TAGS = ("kfp.run_id", "kfp.run_name", "kfp.ui_url")
OPENED_BY = "slimnlp.opened_by"  # "resolve-config": the pipeline made this parent run, and ends it


def open_pipeline_run(
    client: Any, experiment_id: str, parent: str | None, lineage: dict[str, str], name: str, config: dict
) -> str:
    """The parent run (`parent`, else the one tagged with this KFP run id, else a new one), tagged
    with `lineage`."""
    run_id = parent or kfp_parent(client, lineage.get("kfp.run_id"))
    if run_id is None:
        tags = {"slimnlp.kind": "pipeline", OPENED_BY: "resolve-config"}
        run_id = client.create_run(
            experiment_id, run_name=lineage.get("kfp.run_name") or name, tags=tags
        ).info.run_id
        client.log_dict(run_id, config, "config.json")
    for key, value in lineage.items():
        if value:
            client.set_tag(run_id, key, value)
    return run_id


def kfp_parent(client: Any, kfp_run_id: str | None = None) -> str | None:
    """The pipeline run tagged with this KFP run id (default: $SLIMNLP_KFP_RUN_ID), in any experiment."""
    kfp_run_id = kfp_run_id or os.environ.get(KFP_RUN_ENV)
    if not kfp_run_id:
        return None
    experiments = [e.experiment_id for e in client.search_experiments()]
    query = f"tags.`kfp.run_id` = '{kfp_run_id}' and tags.`slimnlp.kind` = 'pipeline'"
    runs = client.search_runs(experiments, filter_string=query, max_results=1) if experiments else []
    return runs[0].info.run_id if runs else None


def lineage_tags(client: Any, parent_id: str | None) -> dict[str, str]:
    """The parent run's id and its KFP lineage tags ({} without a parent)."""
    if not parent_id:
        return {}
    tags = client.get_run(parent_id).data.tags
    return {"slimnlp.parent_run_id": parent_id, **{k: tags[k] for k in LINEAGE_TAGS if k in tags}}


def close_pipeline_run(client: Any, parent_id: str | None, status: str = "FINISHED") -> None:
    """End a parent run the pipeline opened itself (resolve-config); an injected one is its owner's."""
    if parent_id and client.get_run(parent_id).data.tags.get(OPENED_BY) == "resolve-config":
        client.set_terminated(parent_id, status)
