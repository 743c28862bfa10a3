"""Structural pruning by NAS (issue 15)."""
