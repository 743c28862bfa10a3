"""Importance pruning: first-order Taylor importance of heads and FFN neurons, then removal."""

from slimnlp.prune.importance.pruner import ImportancePruner, prune_model
from slimnlp.prune.importance.taylor import Importance, taylor_importance

__all__ = ["Importance", "ImportancePruner", "prune_model", "taylor_importance"]
