"""The DAG the tests expect, written out once (not read from the code under test);
tests/steps/test_step_list.py checks the step list (slimnlp.steps.spec) against it."""

# The default DAG (pretrain.enabled false).
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

# pretrain.enabled adds this step before train-teacher.
OPTIONAL_STEPS = ["pretrain-mlm"]

# Each step's inputs (KFP parameter names) and the steps that ask for a GPU on a cluster.
INPUTS = {
    "prepare-data": [],
    "pretrain-mlm": ["data"],
    "train-teacher": ["data", "pretrained"],
    "prune": ["data", "teacher"],
    "distill": ["data", "teacher", "student"],
    "finetune-amp": ["data", "teacher", "student"],
    "export-onnx": ["data", "model"],
    "benchmark": ["data", "teacher", "student", "student_onnx"],
    "promote": ["data", "teacher", "student_onnx", "results"],
}
GPU_STEPS = ["pretrain-mlm", "train-teacher", "prune", "distill", "finetune-amp"]
