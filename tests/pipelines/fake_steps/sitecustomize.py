"""Loaded by every Python started with this folder on PYTHONPATH: swaps slimnlp.steps for a fake.

The local-run test uses it so that kfp.local's task subprocesses run the real components and
artifact passing, but steps that take milliseconds instead of minutes.
"""

import sys

import fake_slimnlp_steps

sys.modules["slimnlp.steps"] = fake_slimnlp_steps
