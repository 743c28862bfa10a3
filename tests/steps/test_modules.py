"""Step functions are reached as `slimnlp.steps.<function>` whichever module holds them."""

from __future__ import annotations

import pytest

from slimnlp import steps
from slimnlp.steps.spec import GRID_STEPS, STEPS


@pytest.mark.parametrize("step", STEPS + GRID_STEPS, ids=lambda s: s.name)
def test_no_step_module_is_named_like_a_step_function(step):
    # Once `slimnlp.steps.<module>` is imported, Python sets it as an attribute of the package:
    # a module named like a function (steps/prune.py beside prune()) would hide the function.
    functions = {s.function.partition(":")[2] for s in STEPS + GRID_STEPS}
    module, _, function = step.function.partition(":")
    assert module not in functions, f"module steps/{module}.py hides the step function {module}()"
    assert callable(getattr(steps, function)) and getattr(steps, function) is step.load()
