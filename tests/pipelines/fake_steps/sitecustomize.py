"""Loaded by every Python started with this folder on PYTHONPATH: swaps the step bodies for fakes.

The local-run test uses it so that kfp.local's task subprocesses run the real components, the real
step list (slimnlp.steps.spec) and the real entry (inputs by keyword) and artifact passing, but
steps that take milliseconds instead of minutes: every step module the list names resolves here.
"""

import sys

import fake_slimnlp_steps

for module in ("data", "train", "pruning", "export", "measure", "release", "grid"):
    sys.modules[f"slimnlp.steps.{module}"] = fake_slimnlp_steps
