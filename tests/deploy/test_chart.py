"""The Helm chart, rendered offline and validated against Kubernetes schemas (scripts/lint_chart.py).

No cluster here: helm-python-sdk renders (or the `helm` binary where present) and kubernetes-validate
checks every object in strict mode. Beyond "it validates", the tests check what an operator relies
on: Secrets referenced by name, MLflow's settings, hooks, and that the retrain CronJob runs a
`slimnlp submit` command line and a run config that slimnlp itself accepts.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slimnlp.config import load_config
from slimnlp_pipelines.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "slimnlp"

if not os.environ.get("CI"):  # CI installs the dev extra: there a missing wheel fails, not skips
    pytest.importorskip("helm_python", reason="helm-python-sdk (dev extra) renders the chart offline")
    pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) checks the manifests")


def _load_script():
    spec = importlib.util.spec_from_file_location("lint_chart", REPO / "scripts" / "lint_chart.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["lint_chart"] = module
    spec.loader.exec_module(module)
    return module


lint_chart = _load_script()


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, dict]]:
    """{values file name: {"Kind/name": object}} for the defaults and every ci/*-values.yaml."""
    results = lint_chart.lint_chart(CHART)
    return {
        Path(r.values_file).name: {f"{o['kind']}/{o['metadata']['name']}": o for o in r.objects}
        for r in results
    }


def pod(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def values_file(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "my-values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


# --------------------------------------------------------------------------------------------------
# Every values file renders and validates


def test_defaults_and_ci_variants_validate(rendered):
    assert set(rendered) == {
        "default values",
        "dev-values.yaml",
        "prod-values.yaml",
        "serving-deployment-values.yaml",
        "serving-kserve-values.yaml",
    }
    assert sorted(rendered["default values"]) == [
        "Deployment/slimnlp-mlflow",
        "Job/slimnlp-bucket-init",
        "Service/slimnlp-mlflow",
        "ServiceAccount/slimnlp-mlflow",
    ]
    dev = rendered["dev-values.yaml"]
    for name in (
        "Deployment/slimnlp-seaweedfs",
        "Service/slimnlp-seaweedfs",
        "PersistentVolumeClaim/slimnlp-seaweedfs",
        "CronJob/slimnlp-retrain",
        "NetworkPolicy/slimnlp-mlflow",
        "NetworkPolicy/slimnlp-seaweedfs",
    ):
        assert name in dev
    assert "Job/slimnlp-bucket-init" not in rendered["prod-values.yaml"]  # bucketInit.enabled: false


def test_standard_labels_everywhere(rendered):
    for objects in rendered.values():
        for name, obj in objects.items():
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/instance"] == "slimnlp", name
            assert labels["app.kubernetes.io/managed-by"] == "Helm", name
            assert labels["helm.sh/chart"] == "slimnlp-0.1.0", name
            assert labels["app.kubernetes.io/component"], name


def test_mlflow_server_settings(rendered):
    for file, workers, secret, endpoint in [
        ("default values", "2", "slimnlp-mlflow-db", None),
        ("dev-values.yaml", "1", "slimnlp-mlflow-db", "http://slimnlp-seaweedfs.mlops.svc:8333"),
        ("prod-values.yaml", "4", "mlflow-postgres", "https://s3.eu-central-1.example.org"),
    ]:
        (container,) = pod(rendered[file]["Deployment/slimnlp-mlflow"])["containers"]
        assert container["command"] == ["mlflow", "server"]
        assert f"--workers={workers}" in container["args"]
        # The URI (with its password) comes from the Secret through the environment, never argv.
        assert not any(a.startswith("--backend-store-uri") for a in container["args"])
        env = env_of(container)
        assert env["MLFLOW_BACKEND_STORE_URI"]["secretKeyRef"]["name"] == secret
        assert env.get("MLFLOW_S3_ENDPOINT_URL") == endpoint
        assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
        # In-cluster clients use the Service name: MLflow's host check must let it through.
        hosts = (
            next(a for a in container["args"] if a.startswith("--allowed-hosts=")).split("=", 1)[1].split(",")
        )
        assert "slimnlp-mlflow.mlops*" in hosts
    prod = pod(rendered["prod-values.yaml"]["Deployment/slimnlp-mlflow"])["containers"][0]
    assert "--artifacts-destination=s3://ml-artifacts/slimnlp" in prod["args"]
    assert env_of(prod)["AWS_ACCESS_KEY_ID"]["secretKeyRef"]["name"] == "mlflow-s3-credentials"
    assert prod["resources"]["limits"]["memory"] == "4Gi"


def test_bucket_init_is_a_hook(rendered):
    job = rendered["dev-values.yaml"]["Job/slimnlp-bucket-init"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert env_of(pod(job)["containers"][0])["BUCKET"] == "mlflow"


@pytest.mark.parametrize("file", ["dev-values.yaml", "prod-values.yaml"])
def test_retrain_cronjob_runs_a_valid_slimnlp_submit(rendered, file, tmp_path):
    objects = rendered[file]
    cronjob = objects["CronJob/slimnlp-retrain"]
    (container,) = pod(cronjob)["containers"]
    assert container["command"][:2] == ["slimnlp", "submit"]
    # The command line parses with slimnlp's own parser, and the mounted run config loads.
    args = build_parser().parse_args(container["command"][1:] + container["args"])
    assert args.verb == "submit" and args.config == "/etc/slimnlp/run.yaml"
    assert args.tracking_uri == "http://slimnlp-mlflow.mlops.svc:5000"
    config = tmp_path / "run.yaml"
    config.write_text(objects["ConfigMap/slimnlp-retrain"]["data"]["run.yaml"])
    cfg = load_config(str(config), args.overrides)
    expected = yaml.safe_load((CHART / "ci" / file).read_text())["retrain"]
    assert cfg.name == expected["config"]["name"]
    assert cronjob["spec"]["schedule"] == expected["schedule"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    # Auth: a token Secret when given, else the projected KFP service-account token.
    volumes = {v["name"]: v for v in pod(cronjob)["volumes"]}
    if expected.get("tokenSecret"):
        assert env_of(container)["SLIMNLP_KFP_TOKEN"]["secretKeyRef"]["name"] == expected["tokenSecret"]
        assert "kfp-token" not in volumes
    else:
        (source,) = volumes["kfp-token"]["projected"]["sources"]
        assert source["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"


def test_seaweedfs_keys_come_from_the_secret(rendered):
    deployment = rendered["dev-values.yaml"]["Deployment/slimnlp-seaweedfs"]
    (init,) = pod(deployment)["initContainers"]
    assert env_of(init)["AWS_SECRET_ACCESS_KEY"]["secretKeyRef"]["name"] == "slimnlp-s3"
    text = yaml.safe_dump(rendered["dev-values.yaml"])
    assert 'secretKey":"%s' in text  # filled in from the environment at start, not stored


# --------------------------------------------------------------------------------------------------
# Bad values and bad manifests fail with clear errors


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mlflow": {"backendStore": {"existingSecret": None}}}, "missing property 'existingSecret'"),
        ({"mlflow": {"artifactStore": {"existingSecret": ""}}}, "/mlflow/artifactStore/existingSecret"),
        ({"mlfow": {"workers": 2}}, "mlfow"),
        ({"mlflow": {"workers": 0}}, "/mlflow/workers"),
        ({"retrain": {"enabled": True, "schedule": "every monday"}}, "/retrain/schedule"),
    ],
)
def test_bad_values_fail_with_the_key(tmp_path, values, message):
    path = values_file(tmp_path, values)
    with pytest.raises(lint_chart.ChartLintError) as caught:
        lint_chart.lint_chart(CHART, [path])
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_values_that_render_an_invalid_manifest(tmp_path):
    # The values schema allows any toleration; Kubernetes' schema (strict) does not.
    bad = {"key": "dedicated", "operator": "Equal", "value": "ml", "tolerationSecond": 5}
    path = values_file(tmp_path, {"mlflow": {"tolerations": [bad]}})
    with pytest.raises(
        lint_chart.ChartLintError, match=r"Deployment/slimnlp-mlflow: spec\.template\.spec\.tolerations\.0"
    ):
        lint_chart.lint_chart(CHART, [path])


def test_root_pods_are_rejected():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "rooty"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]},
            },
        },
    }
    with pytest.raises(lint_chart.ChartLintError) as caught:
        lint_chart.check_objects([deployment], "test")
    assert "Deployment/rooty: pod securityContext.runAsNonRoot is not true" in str(caught.value)
    assert "container c may escalate privileges" in str(caught.value)


def test_command_line(tmp_path):
    script = str(REPO / "scripts" / "lint_chart.py")
    ok = subprocess.run([sys.executable, script, str(CHART)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("ok  ") == 5 and "valid for Kubernetes 1.34.0" in ok.stdout
    path = values_file(tmp_path, {"mlflow": {"backendStore": {"existingSecret": None}}})
    bad = subprocess.run(
        [sys.executable, script, str(CHART), "--values", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith(f"error: {path}: values do not match values.schema.json")


def test_read_only_root_filesystem_with_a_writable_tmp(rendered):
    for objects in rendered.values():
        for name, obj in objects.items():
            if obj["kind"] not in ("Deployment", "Job", "CronJob"):
                continue
            spec = pod(obj)
            for container in spec.get("initContainers", []) + spec["containers"]:
                assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
                mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
                assert "/tmp" in mounts or container["name"] == "s3-config", (name, container["name"])


# --------------------------------------------------------------------------------------------------
# The model-serving release


def test_serving_renders_nothing_when_off(rendered):
    for file in ("default values", "dev-values.yaml", "prod-values.yaml"):
        assert not [name for name in rendered[file] if "serving" in name], file


def test_serving_on_kserve_is_an_inference_service_with_a_canary(rendered):
    objects = rendered["serving-kserve-values.yaml"]
    service = objects["InferenceService/slimnlp-serving"]
    predictor = service["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10 and predictor["scaleMetric"] == "cpu"
    (container,) = predictor["containers"]
    assert container["command"] == ["slimnlp", "serve"]
    assert "--model=models:/slimnlp-marathi-sample@champion" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    env = env_of(container)
    assert env["MLFLOW_TRACKING_URI"] == "http://slimnlp-mlflow.mlops.svc:5000"
    assert (
        env["SLIMNLP_ROLLOUT_ID"] == "3" and env["AWS_ACCESS_KEY_ID"]["secretKeyRef"]["name"] == "slimnlp-s3"
    )
    # The CLI accepts exactly the arguments the chart passes.
    build_parser().parse_args(container["command"][1:] + container["args"])


def test_serving_without_kserve_is_a_deployment_service_and_autoscaler(rendered):
    objects = rendered["serving-deployment-values.yaml"]
    deployment = objects["Deployment/slimnlp-serving"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = pod(deployment)["containers"]
    assert "--max-wait-ms=2" in container["args"]
    hpa = objects["HorizontalPodAutoscaler/slimnlp-serving"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "slimnlp-serving"
    selector = objects["Service/slimnlp-serving"]["spec"]["selector"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_an_invalid_inference_service_fails_the_kserve_schema(rendered):
    service = dict(rendered["serving-kserve-values.yaml"]["InferenceService/slimnlp-serving"])
    predictor = {**service["spec"]["predictor"], "canaryTrafficPercent": 150, "replicas": 2}
    bad = {**service, "spec": {"predictor": predictor}}
    with pytest.raises(lint_chart.ChartLintError) as err:
        lint_chart.check_objects([bad], "test")
    assert "canaryTrafficPercent: 150 is greater than the maximum of 100" in str(err.value)
    assert "'replicas' was unexpected" in str(err.value)
    pod_fields = {**service["spec"]["predictor"], "containers": [{"name": "x", "image": "y", "portz": []}]}
    with pytest.raises(lint_chart.ChartLintError, match="spec.predictor"):
        lint_chart.check_objects([{**service, "spec": {"predictor": pod_fields}}], "test")


def test_serving_needs_a_model_name(tmp_path):
    values = values_file(tmp_path, {"serving": {"enabled": True}})
    with pytest.raises(lint_chart.ChartLintError, match="model"):
        lint_chart.lint_values(CHART, values)
