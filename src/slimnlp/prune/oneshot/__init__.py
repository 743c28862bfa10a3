"""Calibrated one-shot pruners (issue 16)."""
