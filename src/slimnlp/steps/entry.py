"""The one body every KFP component runs: JSON config in, artifact paths, headline metrics out.

Components stay a few lines each (`components/steps.py`); what they share lives here, in the
package, where it is tested without KFP.
"""

from __future__ import annotations

import fnmatch
import os
import time
from pathlib import Path
from typing import Any

from slimnlp.mlops.tracking import numeric_metrics
from slimnlp.steps.spec import Step


def headline_metrics(step: Step, metrics: dict[str, Any]) -> dict[str, float]:
    """The few numbers worth showing beside a pipeline task: the step's `headline` keys (the step
    list) and its peak memory; everything else is in its MLflow run and metrics.json."""
    flat = numeric_metrics({k: v for k, v in metrics.items() if not isinstance(v, dict)})
    patterns = (*step.headline, "peak_rss_gib")
    return {k: v for k, v in flat.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}


def run_component(
    step: str,
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    out_dir: str,
    **inputs: Any,
) -> dict[str, float]:
    """Run the step named `step` (a CLI verb) on its input directories, given by their names in the
    step list (`data=..., teacher=...`); an optional input that is None (its producer did not run)
    is left out.

    `parent_run_id`/`tracking_uri` may be "" (KFP parameters cannot be None): tracking then falls
    back to the MLFLOW_RUN_ID/MLFLOW_TRACKING_URI that KFP's MLflow integration injects.
    """
    from slimnlp.config import config_from_json
    from slimnlp.mlops.resources import peak_rss_gib
    from slimnlp.mlops.resume import run_or_reuse
    from slimnlp.steps.spec import step_spec
    from slimnlp.training import distributed

    nproc = distributed.requested_processes()  # kubernetes.accelerator_limit > 1 on a GPU step
    if nproc > 1:
        kwargs = dict(config_json=config_json, parent_run_id=parent_run_id, tracking_uri=tracking_uri)
        return distributed.run_component_processes(nproc, step, {**kwargs, "out_dir": out_dir, **inputs})

    spec = step_spec(step)
    known = {i.name: i for i in spec.inputs}
    values = {name: inputs.pop(name) for name in spec.values if name in inputs}
    unknown = sorted(set(inputs) - set(known))
    if unknown:
        raise TypeError(f"step {step} has no input(s) {unknown}; its inputs are {sorted(known)}")
    missing = sorted(name for name, i in known.items() if not i.optional and not inputs.get(name))
    if missing:
        raise TypeError(f"step {step} needs input(s) {missing}")
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    start = time.perf_counter()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    cfg = config_from_json(config_json)
    given = {name: path for name, path in inputs.items() if path is not None}
    result = run_or_reuse(  # with `slimnlp run --resume`: a finished step's output, not a rerun
        cfg,
        step,
        out_dir,
        given,
        lambda: {  # the peak is recorded with the metrics: a reused step shows the one it had
            **spec.load()(
                cfg,
                out_dir=out_dir,
                parent_run_id=parent_run_id or None,
                **{known[name].param: path for name, path in given.items()},
                **values,
            ),
            "peak_rss_gib": peak_rss_gib(),
        },
        values=values,
    )
    return {**headline_metrics(spec, result), "wall_time_s": round(time.perf_counter() - start, 3)}
