"""Multi-objective search over the super-network: dev accuracy (shared weights) vs predicted latency.

    candidates = search(model, tokenizer, dev, space, table, section, batch_size=32, max_length=48, seed=13)
    front = pareto_front(candidates)         # the non-dominated ones, fastest first

The optimiser is optuna's NSGA-II (or its random sampler); each candidate is scored by slicing a copy
of the trained super-network (no retraining) and its latency comes from the table, so a few hundred
candidates take minutes. The largest and the smallest sub-networks are always evaluated first, so
the front spans the whole range.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

from torch import nn

from slimnlp.models import head_dim
from slimnlp.prune.nas.config import NasConfig
from slimnlp.prune.nas.latency import LatencyTable
from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from slimnlp.prune.nas.supernet import slice_subnetwork
from slimnlp.training.batches import evaluate, predict_logits


@dataclass
class Candidate:
    arch: SubNetwork
    accuracy: float  # dev accuracy with the shared weights
    latency_ms: float  # predicted, at the search's batch size
    params: int  # encoder parameters of the kept layers


def subnetwork_accuracy(model: nn.Module, tokenizer: Any, arch: SubNetwork, dev, max_length: int) -> float:
    """Dev accuracy of `arch` with the super-network's weights, on a sliced copy (fast: only the
    sub-network's work is done)."""
    sliced = slice_subnetwork(copy.deepcopy(model).eval(), arch)
    return float(evaluate(sliced, tokenizer, dev[0], dev[1], max_length)["accuracy"])


def subnetwork_predictions(
    model: nn.Module, tokenizer: Any, arch: SubNetwork, texts: list[str], max_length: int
):
    """Predicted label ids of `arch` with the super-network's weights (a sliced copy), one per text."""
    sliced = slice_subnetwork(copy.deepcopy(model).eval(), arch)
    return predict_logits(sliced, tokenizer, texts, max_length).argmax(-1).numpy()


def _sampler(section: NasConfig, seed: int):
    import optuna

    if section.searcher == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.NSGAIISampler(population_size=section.population, seed=seed)


def search(
    model: nn.Module,
    tokenizer: Any,
    dev: tuple[list[str], list[int]],
    space: SearchSpace,
    table: LatencyTable,
    section: NasConfig,
    *,
    batch_size: int,
    max_length: int,
    seed: int,
    progress: bool = True,
) -> list[Candidate]:
    """Run `section.candidates` trials; returns every distinct sub-network evaluated."""
    import optuna
    from tqdm.auto import tqdm

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    hidden, dim = model.config.hidden_size, head_dim(model)
    evaluated: dict[str, Candidate] = {}
    bar = tqdm(total=section.candidates, desc="nas search", disable=not progress)

    def objective(trial) -> tuple[float, float]:
        arch = space.suggest(trial)
        bar.update(1)
        if arch is None:  # fewer layers than min_layers
            raise optuna.TrialPruned()
        if arch.key not in evaluated:
            evaluated[arch.key] = Candidate(
                arch=arch,
                accuracy=subnetwork_accuracy(model, tokenizer, arch, dev, max_length),
                latency_ms=table.predict(arch, batch_size),
                params=arch.parameters(hidden, dim),
            )
            bar.set_postfix(distinct=len(evaluated))
        found = evaluated[arch.key]
        trial.set_user_attr("arch", arch.key)
        return found.accuracy, found.latency_ms

    study = optuna.create_study(directions=["maximize", "minimize"], sampler=_sampler(section, seed))
    for arch in (space.largest(), space.smallest()):
        study.enqueue_trial(space.params_of(arch))
    logging.getLogger("optuna").setLevel(logging.WARNING)
    study.optimize(objective, n_trials=section.candidates)
    bar.close()
    return list(evaluated.values())


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates no other one beats on both accuracy (higher) and latency (lower), fastest
    first; of equal points the one with fewer parameters stays."""
    ranked = sorted(candidates, key=lambda c: (c.latency_ms, -c.accuracy, c.params))
    front: list[Candidate] = []
    for c in ranked:
        if not front or c.accuracy > front[-1].accuracy:
            front.append(c)
    return front
