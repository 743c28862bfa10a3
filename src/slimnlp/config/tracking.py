"""MLflow tracking and CodeCarbon energy measurement of every step."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help


@dataclass(frozen=True)
class TrackingConfig:
    tracking_uri: str | None = _help(
        "MLflow tracking URI; None = MLFLOW_TRACKING_URI if set (KFP injects it), else sqlite:///<run dir>/mlflow.db.",
        None,
    )
    experiment: str = _help("MLflow experiment name.", "slimnlp")
    codecarbon: bool = _help("Measure energy and CO2 of every step with CodeCarbon (offline).", True)
    country_iso_code: str = _help("Country for CodeCarbon's offline carbon intensity.", "IND")
