"""A step's headline figures (what a KFP task shows) come from its own entry in the step list."""

from __future__ import annotations

import pytest

from slimnlp.steps.entry import headline_metrics
from slimnlp.steps.spec import GRID_STEPS, STEPS, step_spec


@pytest.mark.parametrize("step", STEPS + GRID_STEPS, ids=lambda s: s.name)
def test_every_step_declares_its_headline(step):
    assert step.headline, f"{step.name} shows no figure beside its task"


def test_headline_keeps_the_step_figures_and_peak_only():
    metrics = {
        "test_accuracy": 0.8,
        "heads_removed": 4,
        "train_rows": 100,  # prepare-data's figure: not the prune step's
        "layout": {"heads_per_layer": [2, 2]},
        "method": "importance",
        "peak_rss_gib": 1.5,
    }
    assert headline_metrics(step_spec("prune"), metrics) == {
        "test_accuracy": 0.8,
        "heads_removed": 4.0,
        "peak_rss_gib": 1.5,
    }
    rows = {"student-onnx.accuracy": 0.9, "student-onnx.latency_b1_p50_ms": 3.0, "benchmark_seconds": 9.0}
    assert headline_metrics(step_spec("benchmark"), rows) == {"student-onnx.accuracy": 0.9}
