"""The compiled pipeline: task graph, artifact wiring, cluster settings, the config parameter.

Compiles through the CLI (`slimnlp compile`) into a temporary YAML and reads both documents: the
IR pipeline spec and the Kubernetes platform spec.
"""

import json
import subprocess
import sys

import pytest
import yaml

from slimnlp.config import load_config
from slimnlp_pipelines.cli import main

STEPS = ["prepare-data", "train-teacher", "prune", "distill", "finetune-amp", "export-onnx", "benchmark"]
TRAINING = {"train-teacher", "prune", "distill", "finetune-amp"}

OVERRIDES = [
    "kubernetes.accelerator_limit=2",
    "kubernetes.node_selector={pool: a100, zone: eu-1}",
    "kubernetes.tolerations=[{key: dedicated, operator: Equal, value: ml, effect: NoSchedule}]",
    "kubernetes.image=registry.example/slimnlp:test",
    "kubernetes.cpu_request=3",
    "kubernetes.memory_request=6G",
    "kubernetes.memory_limit=12G",
    "prune.target_sparsity=0.4",
]


def compile_to_docs(tmp_path, overrides, documents=2):
    out = tmp_path / "pipeline.yaml"
    args = ["compile", "--out", str(out)]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 0
    docs = list(yaml.safe_load_all(out.read_text(encoding="utf-8")))
    assert len(docs) == documents, "expected the pipeline spec (and the kubernetes platform spec)"
    return docs


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    spec, platform = compile_to_docs(tmp_path_factory.mktemp("compile"), OVERRIDES)
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def executor_of(spec, task):
    component = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    return spec["components"][component]["executorLabel"]


def test_all_seven_tasks_in_order(compiled):
    spec, _ = compiled
    tasks = spec["root"]["dag"]["tasks"]
    assert sorted(tasks) == sorted(STEPS)
    for name, task in tasks.items():
        assert task["taskInfo"]["name"] == name  # display name = CLI verb
        assert not task.get("cachingOptions", {}).get("enableCache", False)


@pytest.mark.parametrize(
    ("task", "artifact", "producer", "output"),
    [
        ("train-teacher", "data", "prepare-data", "data"),
        ("prune", "data", "prepare-data", "data"),
        ("prune", "teacher", "train-teacher", "model"),
        ("distill", "teacher", "train-teacher", "model"),
        ("distill", "student", "prune", "model"),
        ("finetune-amp", "teacher", "train-teacher", "model"),
        ("finetune-amp", "student", "distill", "model"),
        ("export-onnx", "model", "finetune-amp", "model"),
        ("benchmark", "data", "prepare-data", "data"),
        ("benchmark", "teacher", "train-teacher", "model"),
        ("benchmark", "student", "finetune-amp", "model"),
        ("benchmark", "student_onnx", "export-onnx", "onnx"),
    ],
)
def test_artifact_wiring(compiled, task, artifact, producer, output):
    spec, _ = compiled
    task_spec = spec["root"]["dag"]["tasks"][task]
    source = task_spec["inputs"]["artifacts"][artifact]["taskOutputArtifact"]
    assert source == {"producerTask": producer, "outputArtifactKey": output}
    assert producer in task_spec["dependentTasks"]


def test_pipeline_returns_benchmark_results(compiled):
    spec, _ = compiled
    outputs = spec["root"]["dag"]["outputs"]["artifacts"]
    (selector,) = [s for out in outputs.values() for s in out["artifactSelectors"]]
    assert selector == {"producerSubtask": "benchmark", "outputArtifactKey": "results"}


def test_training_steps_get_gpu_node_selector_tolerations(compiled):
    spec, platform = compiled
    for task in STEPS:
        executor = executor_of(spec, task)
        resources = spec["deploymentSpec"]["executors"][executor]["container"]["resources"]
        if task in TRAINING:
            assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
            assert resources["accelerator"]["resourceCount"] == "2"
            assert platform[executor]["nodeSelector"]["labels"] == {"pool": "a100", "zone": "eu-1"}
            assert platform[executor]["tolerations"] == [
                {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
            ]
        else:
            assert "accelerator" not in resources
            assert executor not in platform


def test_every_step_gets_image_and_requests(compiled):
    spec, _ = compiled
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 7
    for executor in executors.values():
        container = executor["container"]
        assert container["image"] == "registry.example/slimnlp:test"
        assert container["resources"]["resourceCpuRequest"] == "3"
        assert container["resources"]["resourceMemoryRequest"] == "6G"
        assert container["resources"]["resourceMemoryLimit"] == "12G"
        # The image ships slimnlp and kfp: nothing is pip-installed when a step starts.
        assert "pip install" not in " ".join(container["command"])


def test_config_json_default_is_the_config(compiled):
    spec, _ = compiled
    parameter = spec["root"]["inputDefinitions"]["parameters"]["config_json"]
    cfg = load_config(None, OVERRIDES)
    assert parameter["defaultValue"] == cfg.to_json()
    assert json.loads(parameter["defaultValue"]) == cfg.to_dict()
    assert json.loads(parameter["defaultValue"])["prune"]["target_sparsity"] == 0.4


def test_gpu_image_only_for_training_and_no_gpu_at_limit_zero(tmp_path):
    # At limit 0 nothing is pinned to GPU nodes, so there is no kubernetes platform document at all.
    (spec,) = compile_to_docs(
        tmp_path,
        ["kubernetes.gpu_image=registry.example/slimnlp:cuda", "kubernetes.accelerator_limit=0"],
        documents=1,
    )
    executors = spec["deploymentSpec"]["executors"]
    for task in STEPS:
        container = executors[executor_of(spec, task)]["container"]
        expected = "registry.example/slimnlp:cuda" if task in TRAINING else "ghcr.io/slimnlp/slimnlp:0.1.0"
        assert container["image"] == expected
        assert "accelerator" not in container["resources"]


def test_compiling_does_not_import_torch(tmp_path):
    # Components import slimnlp inside their bodies, so compiling needs neither torch nor transformers.
    code = (
        "import sys\n"
        "from slimnlp_pipelines.cli import main\n"
        f"assert main(['compile', '--out', {str(tmp_path / 'p.yaml')!r}]) == 0\n"
        "heavy = [m for m in ('torch', 'transformers', 'mlflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
