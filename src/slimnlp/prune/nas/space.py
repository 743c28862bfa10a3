"""The search space: which sub-networks of an importance-ordered model a search may pick.

    space = SearchSpace.of_model(model, NasConfig(space="large"), min_heads=1)
    space.largest()          # SubNetwork(layers=((4, 1024), (4, 1024), ...))
    arch = space.suggest(trial)   # an optuna trial picks keep/heads/units per layer

A sub-network is, per layer, (heads, FFN units) kept as a prefix of the importance order, or
(0, 0) for a dropped layer. Prefixes are what makes one set of shared weights hold every candidate
and what lets any candidate be sliced physically.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from slimnlp.prune.nas.config import NasConfig


@dataclass(frozen=True)
class SubNetwork:
    """Per layer (heads, FFN units); (0, 0) = the layer is dropped."""

    layers: tuple[tuple[int, int], ...]

    @property
    def kept_layers(self) -> list[int]:
        return [i for i, (heads, _) in enumerate(self.layers) if heads > 0]

    @property
    def key(self) -> str:
        """A short stable name, e.g. '4x1024|2x512|-|1x64'."""
        return "|".join(f"{h}x{u}" if h else "-" for h, u in self.layers)

    @classmethod
    def from_key(cls, key: str) -> SubNetwork:
        layers = []
        for part in key.split("|"):
            if part == "-":
                layers.append((0, 0))
            else:
                heads, units = part.split("x")
                layers.append((int(heads), int(units)))
        return cls(tuple(layers))

    def parameters(self, hidden: int, head_dim: int) -> int:
        """Encoder parameters of the kept layers (Q/K/V/O, FFN, their biases and LayerNorms)."""
        total = 0
        for heads, units in self.layers:
            if heads:
                width = heads * head_dim
                total += 3 * (hidden * width + width) + width * hidden + hidden  # Q, K, V, O
                total += hidden * units + units + units * hidden + hidden  # FFN in, out
                total += 4 * hidden  # two LayerNorms
        return total


@dataclass(frozen=True)
class SearchSpace:
    """The choices of one preset over a model of `num_layers` layers of `heads` heads and `units`
    FFN units."""

    preset: str
    num_layers: int
    head_choices: tuple[int, ...]
    unit_choices: tuple[int, ...]
    min_layers: int

    @classmethod
    def of_model(
        cls, num_layers: int, heads: int, units: int, section: NasConfig, min_heads: int
    ) -> SearchSpace:
        min_heads = min(section.min_heads or min_heads, heads)
        min_units = min(section.min_ffn_units or section.ffn_step, units)
        steps = {u for u in range(section.ffn_step, units + 1, section.ffn_step) if u >= min_units}
        return cls(
            preset=section.space,
            num_layers=num_layers,
            head_choices=tuple(range(min_heads, heads + 1)),
            unit_choices=tuple(sorted(steps | {units, min_units})),
            min_layers=min(section.min_layers, num_layers),
        )

    @property
    def drops_layers(self) -> bool:
        return self.preset in ("layer", "large")

    @property
    def per_layer(self) -> bool:
        return self.preset in ("medium", "large")

    def largest(self) -> SubNetwork:
        return SubNetwork(((self.head_choices[-1], self.unit_choices[-1]),) * self.num_layers)

    def smallest(self) -> SubNetwork:
        """The cheapest sub-network: fewest units everywhere, and (when layers may go) only the
        last `min_layers` layers kept (the layers next to the classifier)."""
        if self.preset == "layer":
            unit = (self.head_choices[-1], self.unit_choices[-1])
        else:
            unit = (self.head_choices[0], self.unit_choices[0])
        keep = range(self.num_layers - self.min_layers, self.num_layers) if self.drops_layers else None
        return SubNetwork(
            tuple(unit if keep is None or i in keep else (0, 0) for i in range(self.num_layers))
        )

    def sample(self, rng: random.Random) -> SubNetwork:
        """A uniformly random sub-network (the sandwich rule's random members)."""
        values = {name: rng.choice(choices) for name, choices in self._parameters().items()}
        arch = self.from_params(values)
        return arch if arch is not None else self.largest()

    def _parameters(self) -> dict[str, tuple]:
        """The search parameters: name -> choices (optuna's categorical distributions)."""
        params: dict[str, tuple] = {}
        for i in range(self.num_layers):
            if self.drops_layers:
                params[f"keep_{i}"] = (True, False)
            if self.preset == "layer":
                continue
            suffix = f"_{i}" if self.per_layer else ""
            params[f"heads{suffix}"] = self.head_choices
            params[f"units{suffix}"] = self.unit_choices
        return params

    def suggest(self, trial: Any) -> SubNetwork | None:
        """The sub-network an optuna trial picks; None when it keeps fewer than min_layers."""
        values = {
            name: trial.suggest_categorical(name, choices) for name, choices in self._parameters().items()
        }
        return self.from_params(values)

    def params_of(self, arch: SubNetwork) -> dict[str, Any]:
        """The optuna parameters that give `arch` (to enqueue the largest and smallest first)."""
        params: dict[str, Any] = {}
        for i, (heads, units) in enumerate(arch.layers):
            if self.drops_layers:
                params[f"keep_{i}"] = heads > 0
            if self.preset != "layer":
                suffix = f"_{i}" if self.per_layer else ""
                params[f"heads{suffix}"] = heads or self.head_choices[-1]
                params[f"units{suffix}"] = units or self.unit_choices[-1]
        return params

    def from_params(self, values: dict[str, Any]) -> SubNetwork | None:
        full = (self.head_choices[-1], self.unit_choices[-1])
        layers = []
        for i in range(self.num_layers):
            if self.drops_layers and not values[f"keep_{i}"]:
                layers.append((0, 0))
                continue
            if self.preset == "layer":
                layers.append(full)
                continue
            suffix = f"_{i}" if self.per_layer else ""
            layers.append((int(values[f"heads{suffix}"]), int(values[f"units{suffix}"])))
        arch = SubNetwork(tuple(layers))
        return arch if len(arch.kept_layers) >= self.min_layers else None

    def size(self) -> int:
        """How many distinct sub-networks the space holds."""
        per_layer = 1 if self.preset == "layer" else len(self.head_choices) * len(self.unit_choices)
        if self.preset == "small":
            return per_layer
        if not self.drops_layers:
            return per_layer**self.num_layers
        return (per_layer + 1) ** self.num_layers
