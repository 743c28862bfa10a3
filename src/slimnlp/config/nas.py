"""prune.nas: structural pruning by neural architecture search (torch-free).

SKELETON (issue 15): the fields below are placeholders to be completed with the pruner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from slimnlp.config.prune_registry import PruneMethodConfig, prune_method


@prune_method("nas")
@dataclass(frozen=True)
class NasConfig(PruneMethodConfig):
    SUMMARY: ClassVar[str] = (
        "weight-sharing super-network of importance-ordered heads, FFN units and layers, a multi-objective "
        "search of accuracy vs measured latency (Pareto front), then the selected sub-network sliced"
    )
