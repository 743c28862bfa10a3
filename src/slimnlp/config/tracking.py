"""MLflow tracking and CodeCarbon energy measurement of every step."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help


@dataclass(frozen=True)
class TrackingConfig(Section):
    tracking_uri: str | None = _help(
        "MLflow tracking URI; None = MLFLOW_TRACKING_URI if set (KFP injects it), else sqlite:///<run dir>/mlflow.db.",
        None,
    )
    experiment: str = _help("MLflow experiment name.", "slimnlp", pattern=r".*\S.*", means="a non-empty name")
    codecarbon: bool = _help("Measure energy and CO2 of every step with CodeCarbon (offline).", True)
    country_iso_code: str = _help(
        "Country for CodeCarbon's offline carbon intensity.",
        "IND",
        pattern="[A-Z]{3}",
        means="a three-letter ISO 3166 country code such as IND",
    )
