"""`slimnlp` verbs: (to be filled in)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_verbs(verbs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> dict:
    """Add this module's verbs to `verbs`; return {verb: command(args) -> exit code}."""
    return {}
