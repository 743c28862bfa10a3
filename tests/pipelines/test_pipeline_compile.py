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
from tests.expected_steps import STEPS

TRAINING = {"train-teacher", "prune", "distill", "finetune-amp"}

OVERRIDES = [
    "kubernetes.accelerator_limit=2",
    "kubernetes.node_selector={pool: a100, zone: eu-1}",
    "kubernetes.tolerations=[{key: dedicated, operator: Equal, value: ml, effect: NoSchedule}]",
    "kubernetes.image=registry.example/slimnlp:test",
    "kubernetes.gpu_image=null",  # null: the training steps run in `image` too
    "kubernetes.cpu_request=3",
    "kubernetes.memory_request=6G",
    "kubernetes.memory_limit=12G",
    "kubernetes.cpu_limit=5",
    "kubernetes.shm_size=4Gi",
    "kubernetes.retries=3",
    "kubernetes.retry_backoff_s=30",
    "kubernetes.retry_backoff_max_s=900",
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


def test_every_step_and_resolve_config_cached_except_resolve_and_promote(compiled):
    spec, _ = compiled
    tasks = spec["root"]["dag"]["tasks"]
    assert sorted(tasks) == sorted([*STEPS, "resolve-config"])
    for name, task in tasks.items():
        assert task["taskInfo"]["name"] == name  # display name = CLI verb
        cached = task.get("cachingOptions", {}).get("enableCache", False)
        assert cached == (name not in ("resolve-config", "promote")), name


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
            assert set(platform[executor]) == {"fieldPathAsEnv"}


def test_every_step_gets_image_and_requests(compiled):
    spec, _ = compiled
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 9  # the steps and resolve-config
    for executor in executors.values():
        container = executor["container"]
        assert container["image"] == "registry.example/slimnlp:test"
        assert container["resources"]["resourceCpuRequest"] == "3"
        assert container["resources"]["resourceMemoryRequest"] == "6G"
        assert container["resources"]["resourceMemoryLimit"] == "12G"
        assert container["resources"]["resourceCpuLimit"] == "5"
        # The image ships slimnlp and kfp: nothing is pip-installed when a step starts.
        assert "pip install" not in " ".join(container["command"])


def test_the_compiled_config_is_the_default_of_every_run(compiled):
    spec, _ = compiled
    cfg = load_config(None, OVERRIDES)
    base = spec["root"]["dag"]["tasks"]["resolve-config"]["inputs"]["parameters"]["base_config"]
    assert base["runtimeValue"]["constant"] == cfg.to_json()
    assert json.loads(base["runtimeValue"]["constant"])["prune"]["target_sparsity"] == 0.4


def test_gpu_image_only_for_training_and_no_gpu_at_limit_zero(tmp_path):
    # At limit 0 nothing is pinned to GPU nodes; the platform spec keeps only the /dev/shm mounts.
    spec, platform = compile_to_docs(
        tmp_path, ["kubernetes.gpu_image=registry.example/slimnlp:cuda", "kubernetes.accelerator_limit=0"]
    )
    executors = spec["deploymentSpec"]["executors"]
    platform = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for task in STEPS:
        executor = executor_of(spec, task)
        container = executors[executor]["container"]
        expected = "registry.example/slimnlp:cuda" if task in TRAINING else "ghcr.io/slimnlp/slimnlp:0.1.0"
        assert container["image"] == expected
        assert "accelerator" not in container["resources"]
        if task in TRAINING:
            assert set(platform[executor]) == {"emptyDirMounts", "fieldPathAsEnv"}
        else:
            assert set(platform[executor]) == {"fieldPathAsEnv"}


def test_default_images_cuda_for_training(tmp_path):
    spec, _ = compile_to_docs(tmp_path, [])
    for task in STEPS:
        image = spec["deploymentSpec"]["executors"][executor_of(spec, task)]["container"]["image"]
        assert image == "ghcr.io/slimnlp/slimnlp:0.1.0" + ("-cuda" if task in TRAINING else "")


def test_without_gpu_and_shm_the_platform_spec_holds_only_the_run_id(tmp_path):
    # Every pod gets its KFP run id from its `pipeline/runid` label (downward API): how a cached
    # step finds its MLflow parent run without the run id in its cache key.
    spec, platform = compile_to_docs(tmp_path, ["kubernetes.accelerator_limit=0", "kubernetes.shm_size=null"])
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert len(executors) == len(spec["deploymentSpec"]["executors"]) == 9
    for executor in executors.values():
        assert executor == {
            "fieldPathAsEnv": [
                {"name": "SLIMNLP_KFP_RUN_ID", "fieldPath": "metadata.labels['pipeline/runid']"}
            ]
        }


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


# --------------------------------------------------------------------------------------------------
# Wiring of every component, retries, /dev/shm, side-effect steps

# What each task consumes: {task: {input artifact: (producer task, output key)}}.
WIRING = {
    "prepare-data": {},
    "train-teacher": {"data": ("prepare-data", "data")},
    "prune": {"data": ("prepare-data", "data"), "teacher": ("train-teacher", "model")},
    "distill": {
        "data": ("prepare-data", "data"),
        "teacher": ("train-teacher", "model"),
        "student": ("prune", "model"),
    },
    "finetune-amp": {
        "data": ("prepare-data", "data"),
        "teacher": ("train-teacher", "model"),
        "student": ("distill", "model"),
    },
    "export-onnx": {"data": ("prepare-data", "data"), "model": ("finetune-amp", "model")},
    "benchmark": {
        "data": ("prepare-data", "data"),
        "teacher": ("train-teacher", "model"),
        "student": ("finetune-amp", "model"),
        "student_onnx": ("export-onnx", "onnx"),
    },
    "promote": {
        "data": ("prepare-data", "data"),
        "teacher": ("train-teacher", "model"),
        "student_onnx": ("export-onnx", "onnx"),
        "results": ("benchmark", "results"),
    },
}


def test_every_component_input_and_output_is_wired(compiled):
    spec, _ = compiled
    tasks = spec["root"]["dag"]["tasks"]

    def sources(task: dict) -> dict[str, tuple[str, str]]:
        artifacts = task.get("inputs", {}).get("artifacts", {})
        pairs = ((key, value["taskOutputArtifact"]) for key, value in artifacts.items())
        return {key: (source["producerTask"], source["outputArtifactKey"]) for key, source in pairs}

    for name in STEPS:
        component = spec["components"][tasks[name]["componentRef"]["name"]]
        declared = component["inputDefinitions"]
        # Every required artifact input is fed by exactly the intended producer; optional inputs
        # (e.g. train-teacher's `pretrained`) stay unwired in the default config.
        assert sources(tasks[name]) == WIRING[name], name
        required = {k for k, v in declared.get("artifacts", {}).items() if not v.get("isOptional")}
        assert required == set(WIRING[name]), name
        # Each step's config is its own slice from resolve-config, with the data's fingerprint: its
        # cache key. The parent run is found by the KFP run id, not passed (it would change the key).
        parameters = tasks[name]["inputs"]["parameters"]
        resolved = {"producerTask": "resolve-config", "outputParameterKey": name.replace("-", "_")}
        assert parameters["config_json"] == {"taskOutputParameter": resolved}
        assert parameters["data_fingerprint"] == {
            "taskOutputParameter": {
                "producerTask": "resolve-config",
                "outputParameterKey": "data_fingerprint",
            }
        }
        assert parameters["parent_run_id"] == {"runtimeValue": {"constant": ""}}
        assert parameters["tracking_uri"] == {"componentInputParameter": "tracking_uri"}
        producers = {p for p, _ in WIRING[name].values()} | {"resolve-config"}
        assert set(tasks[name].get("dependentTasks", [])) == producers
        outputs = component["outputDefinitions"]["artifacts"]
        assert outputs["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    # Every output artifact except metrics and the pipeline's end products (benchmark results,
    # the promotion decision) is consumed downstream.
    consumed = {source for task in tasks.values() for source in sources(task).values()}
    produced = {
        (name, key)
        for name in STEPS
        for key in spec["components"][tasks[name]["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
        if key
        not in ("metrics", "results", "decision", "report", "figures", "confusion", "summary", "decision_md")
    }
    assert produced <= consumed


def test_retries_with_backoff_on_every_step(compiled):
    spec, _ = compiled
    for name, task in spec["root"]["dag"]["tasks"].items():
        if name == "promote":  # moves registry aliases: never retried (test_side_effect_steps_...)
            assert "retryPolicy" not in task
            continue
        assert task["retryPolicy"] == {
            "maxRetryCount": 3,
            "backoffDuration": "30s",
            "backoffFactor": 2.0,
            "backoffMaxDuration": "900s",
        }, name


def test_dev_shm_in_memory_for_training_steps(compiled):
    spec, platform = compiled
    for task in STEPS:
        executor = executor_of(spec, task)
        if task in TRAINING:
            assert platform[executor]["emptyDirMounts"] == [
                {"volumeName": "dshm", "mountPath": "/dev/shm", "medium": "Memory", "sizeLimit": "4Gi"}
            ]
        else:
            assert "emptyDirMounts" not in platform.get(executor, {})


def test_retries_off_when_zero(tmp_path):
    spec, _ = compile_to_docs(tmp_path, ["kubernetes.retries=0"])
    assert not any("retryPolicy" in task for task in spec["root"]["dag"]["tasks"].values())


def test_side_effect_steps_never_retry_or_cache(tmp_path):
    # The rules key off step names: a `promote` task added to any DAG gets no retry and no cache,
    # while a step without side effects keeps its retry policy.
    from kfp import compiler, dsl

    from slimnlp_pipelines.tasks import configure_task

    @dsl.component(base_image="python:3.11-slim")
    def touch(note: str) -> str:
        return note

    k8s = load_config(None, ["kubernetes.retries=4"]).kubernetes

    @dsl.pipeline(name="rules")
    def rules():
        configure_task(touch(note="a"), "promote", k8s)
        configure_task(touch(note="b"), "export-onnx", k8s)

    out = tmp_path / "rules.yaml"
    compiler.Compiler().compile(rules, str(out))
    tasks = next(yaml.safe_load_all(out.read_text()))["root"]["dag"]["tasks"]
    by_name = {task["taskInfo"]["name"]: task for task in tasks.values()}
    assert "retryPolicy" not in by_name["promote"]
    assert not by_name["promote"].get("cachingOptions", {}).get("enableCache", False)
    assert by_name["export-onnx"]["retryPolicy"]["maxRetryCount"] == 4


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("kubernetes.retries=-1", "kubernetes.retries must be >= 0"),
        ("kubernetes.retry_backoff_factor=0.5", "kubernetes.retry_backoff_factor must be >= 1"),
        ("kubernetes.memory_limit=16 GB", "kubernetes.memory_limit must be a Kubernetes quantity"),
        ("kubernetes.shm_size=lots", "kubernetes.shm_size must be a Kubernetes quantity"),
    ],
)
def test_bad_cluster_settings_fail_at_load(override, message):
    from slimnlp.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_env_and_s3_secret_on_every_step(tmp_path):
    spec, platform = compile_to_docs(
        tmp_path,
        ["kubernetes.env={AWS_ENDPOINT_URL: 'http://s3.mlops.svc:8333'}", "kubernetes.s3_secret=pipeline-s3"],
    )
    platform = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for task in STEPS:
        executor = executor_of(spec, task)
        container = spec["deploymentSpec"]["executors"][executor]["container"]
        assert {"name": "AWS_ENDPOINT_URL", "value": "http://s3.mlops.svc:8333"} in container["env"]
        (secret,) = platform[executor]["secretAsEnv"]
        assert secret["secretName"] == "pipeline-s3"
        assert secret["keyToEnv"] == [
            {"secretKey": "AWS_ACCESS_KEY_ID", "envVar": "AWS_ACCESS_KEY_ID"},
            {"secretKey": "AWS_SECRET_ACCESS_KEY", "envVar": "AWS_SECRET_ACCESS_KEY"},
        ]


# --------------------------------------------------------------------------------------------------
# Typed run parameters and the config each task receives (its cache key)


def test_typed_run_parameters_default_to_the_compiled_config(tmp_path, capsys):
    overrides = ["data.dir=s3://ml-data/shc", "registry.max_drop_vs_teacher=0.05", "prune.method=wanda"]
    spec, _ = compile_to_docs(tmp_path, overrides)
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["data_dir"] == {
        "defaultValue": "s3://ml-data/shc",
        "isOptional": True,
        "parameterType": "STRING",
    }
    assert params["max_drop_vs_teacher"]["defaultValue"] == 0.05
    assert params["max_drop_vs_teacher"]["parameterType"] == "NUMBER_DOUBLE"
    assert params["prune_method"]["defaultValue"] == "wanda"
    assert params["overrides"] == {"defaultValue": [], "isOptional": True, "parameterType": "LIST"}
    assert {"teacher_checkpoint", "registered_model_name", "train_file", "tracking_uri"} <= set(params)
    assert "config_json" not in params  # no JSON blob to edit: the config is the default
    out = capsys.readouterr().out
    assert "max_drop_vs_teacher    float default 0.05" in out
    assert "fixed at compile time (kubernetes.*" in out


def test_resolve_config_returns_one_config_per_step_of_the_list():
    import typing

    from slimnlp.steps.spec import CANDIDATE_STEPS
    from slimnlp.steps.spec import STEPS as SPEC_STEPS
    from slimnlp_components.resolve import resolve_config

    fields = list(typing.get_type_hints(resolve_config)["return"].__annotations__)
    names = [s.name.replace("-", "_") for s in SPEC_STEPS + CANDIDATE_STEPS]
    assert fields == names + ["data_fingerprint"]


def test_parameters_and_overrides_reach_the_config():
    from slimnlp.config import ConfigError
    from slimnlp.mlops.run_parameters import apply_parameters

    base = load_config(None, ["registry.max_drop_vs_teacher=0.02"]).to_json()
    # In a KFP struct every value is text; "" keeps the compiled value; overrides come last.
    cfg = apply_parameters(
        base,
        {"max_drop_vs_teacher": "0.05", "teacher_checkpoint": "", "prune_method": "wanda"},
        ["distill.epochs=7", "prune.method=magnitude"],
    )
    assert cfg.registry.max_drop_vs_teacher == 0.05
    assert cfg.teacher.checkpoint is None and cfg.distill.epochs == 7 and cfg.prune.method == "magnitude"
    with pytest.raises(ConfigError, match="unknown pipeline parameter"):
        apply_parameters(base, {"epochs": 3})
    with pytest.raises(ConfigError, match="max_drop_vs_teacher must be in"):
        apply_parameters(base, {"max_drop_vs_teacher": 2.0})
    with pytest.raises(ConfigError, match="must look like key.path=value"):
        apply_parameters(base, {}, ["distill.epochs"])


def changed_cache_inputs(before, after) -> set[str]:
    """The steps whose KFP cache key differs: their own config slice changed, or a producer's result
    (a new input artifact) did."""
    from slimnlp.mlops.run_parameters import task_config
    from slimnlp.steps.spec import dag_steps

    changed: set[str] = set()
    for step in dag_steps(before):
        producers = {i.producer for i in step.inputs}
        if task_config(step, before) != task_config(step, after) or producers & changed:
            changed.add(step.name)
    return changed


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("export.atol=0.01", {"export-onnx", "benchmark", "promote"}),
        ("distill.epochs=9", {"distill", "finetune-amp", "export-onnx", "benchmark", "promote"}),
        ("registry.max_drop_vs_teacher=0.05", {"promote"}),
        ("teacher.epochs=9", set(STEPS) - {"prepare-data"}),
        ("data.test_fraction=0.3", set(STEPS)),
    ],
)
def test_a_changed_section_changes_only_its_readers_and_what_follows(override, expected):
    before = load_config(None, [])
    assert changed_cache_inputs(before, load_config(None, [override])) == expected
    assert changed_cache_inputs(before, load_config(None, [])) == set()


def test_data_fingerprint_follows_the_bytes_not_the_path(tmp_path):
    from slimnlp.mlops.run_parameters import data_fingerprint

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "train.csv").write_text("text,label\nx,1\n")
    first = data_fingerprint(load_config(None, [f"data.dir={tmp_path / 'a'}", "data.train_file=train.csv"]))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "train.csv").write_text("text,label\nx,1\n")
    moved = data_fingerprint(load_config(None, [f"data.dir={tmp_path / 'b'}", "data.train_file=train.csv"]))
    (tmp_path / "b" / "train.csv").write_text("text,label\nx,2\n")
    edited = data_fingerprint(load_config(None, [f"data.dir={tmp_path / 'b'}", "data.train_file=train.csv"]))
    assert first == moved != edited


def test_each_step_runs_on_its_slice_with_the_settings_it_reads():
    from slimnlp.config import config_from_json
    from slimnlp.mlops.run_parameters import task_config
    from slimnlp.steps.spec import dag_steps, step_config

    cfg = load_config(
        None, ["registry.enabled=false", "benchmark.runtimes=[pytorch]", "distill.epochs=9", "name=shc"]
    )
    for step in dag_steps(cfg):
        rebuilt = config_from_json(task_config(step, cfg))  # what the task's step function gets
        assert step_config(step, rebuilt) == step_config(step, cfg), step.name
        assert (rebuilt.name, rebuilt.tracking) == (cfg.name, cfg.tracking)  # where it logs
    assert config_from_json(task_config(dag_steps(cfg)[0], cfg)).distill.epochs != 9  # not read: default
