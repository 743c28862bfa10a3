"""The experiment of a run is found or made once, also when two runs start at once on a fresh store."""

from __future__ import annotations

import mlflow

from slimnlp.config import load_config
from slimnlp.mlops import tracking


def test_a_run_that_loses_the_race_to_create_the_experiment_uses_the_winners(tmp_path, monkeypatch):
    cfg = load_config(
        overrides=[f"tracking.tracking_uri=sqlite:///{tmp_path}/mlflow.db", "tracking.experiment=race"]
    )
    winner = tracking._setup(cfg)  # the other run: it created the experiment
    # This run looked before the other created it: it saw no experiment and tries to create one.
    looked = []
    real = mlflow.MlflowClient.get_experiment_by_name

    def first_look_finds_nothing(self, name):
        looked.append(name)
        return None if len(looked) == 1 else real(self, name)

    monkeypatch.setattr(mlflow.MlflowClient, "get_experiment_by_name", first_look_finds_nothing)
    assert tracking._setup(cfg) == winner
    assert looked == ["race", "race"]  # it looked again after RESOURCE_ALREADY_EXISTS
    assert [e.name for e in mlflow.MlflowClient().search_experiments()].count("race") == 1
