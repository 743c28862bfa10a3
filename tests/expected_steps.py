"""The DAG the tests expect, written out once (not read from the code under test)."""

STEPS = [
    "prepare-data",
    "train-teacher",
    "prune",
    "distill",
    "finetune-amp",
    "export-onnx",
    "benchmark",
    "promote",
]
