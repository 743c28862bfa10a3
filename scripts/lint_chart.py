"""Render the Helm chart offline for every values file and validate each manifest against Kubernetes.

    python scripts/lint_chart.py charts/slimnlp                      # what `make lint-chart` runs
    python scripts/lint_chart.py charts/slimnlp --values my-values.yaml --kube-version 1.33.0

For the chart's defaults and each `ci/*-values.yaml` (or the files given with --values):
1. check the values against `values.schema.json` (a missing required Secret name fails here),
2. `helm lint --strict`,
3. render the templates as an install would (`helm template`),
4. validate every rendered object with kubernetes-validate in strict mode (unknown fields fail); a
   KServe InferenceService against the vendored schema `scripts/schemas/inferenceservice-v1beta1.json`
   (strict), its predictor's pod fields against the Kubernetes Pod schema,
5. check the chart's own promises: every pod runs as non-root without privilege escalation.

The real `helm` binary is used where it is on PATH; otherwise the helm-python-sdk wheel (Helm's Go
SDK through a C library) does steps 1-3 with no binary and no cluster. No network is needed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

KUBE_VERSION = "1.34.0"  # a recent release; kubernetes-validate ships schemas up to 1.37
RELEASE = "slimnlp"
NAMESPACE = "mlops"


class ChartLintError(ValueError):
    """The chart does not render, or a rendered manifest is invalid; the message names file and object."""


@dataclass
class LintResult:
    """What one values file rendered to."""

    values_file: str
    objects: list[dict] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in self.objects)


# --------------------------------------------------------------------------------------------------
# Rendering: the helm binary where present, the helm-python-sdk wheel otherwise


def _load_values(values_file: Path | None) -> dict:
    if values_file is None:
        return {}
    try:
        values = yaml.safe_load(values_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ChartLintError(f"{values_file}: cannot read values: {err}") from None
    if not isinstance(values, dict):
        raise ChartLintError(f"{values_file}: a values file must be a mapping, got {type(values).__name__}")
    return values


def check_schema(chart: Path, values_file: Path | None) -> dict:
    """Values (defaults merged) against values.schema.json; returns the values file's own values."""
    import helm_python as helm

    values = _load_values(values_file)
    with helm.Chart.load(chart) as loaded:
        try:
            loaded.validate_schema(values)
        except helm.HelmValuesError as err:
            hint = ""
            if "existingSecret" in str(err):
                hint = (
                    "\nset it to the name of a Secret that exists in the release namespace "
                    "(see README, Run on Kubeflow: kubectl create secret generic ...)"
                )
            label = values_file or "default values"
            raise ChartLintError(f"{label}: values do not match values.schema.json: {err}{hint}") from None
    return values


def render_with_sdk(chart: Path, values_file: Path | None) -> dict[str, str]:
    """Schema check, strict lint and render through helm-python-sdk; {template path: manifest text}."""
    import helm_python as helm

    values = check_schema(chart, values_file)
    label = values_file or "default values"
    report = helm.lint(chart, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
    if problems:
        raise ChartLintError(f"{label}: helm lint --strict: {problems}")
    with helm.Chart.load(chart) as loaded:
        try:
            return loaded.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        except helm.HelmError as err:
            raise ChartLintError(f"{label}: render failed: {err}") from None


def render_with_binary(helm_bin: str, chart: Path, values_file: Path | None) -> dict[str, str]:
    """The same with the `helm` binary (`helm lint --strict`, `helm template`)."""
    check_schema(chart, values_file)  # the same message whichever engine renders
    extra = ["--values", str(values_file)] if values_file else []
    label = values_file or "default values"
    lint = subprocess.run([helm_bin, "lint", "--strict", str(chart), *extra], capture_output=True, text=True)
    if lint.returncode != 0:
        raise ChartLintError(f"{label}: helm lint --strict failed:\n{lint.stdout}{lint.stderr}")
    command = [
        helm_bin,
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
    ]
    rendered = subprocess.run([*command, *extra], capture_output=True, text=True)
    if rendered.returncode != 0:
        raise ChartLintError(f"{label}: helm template failed:\n{rendered.stderr}")
    # One stream of documents; errors name each object by kind and name, so no per-template split.
    return {"helm template": rendered.stdout}


def render(chart: Path, values_file: Path | None) -> dict[str, str]:
    helm_bin = shutil.which("helm")
    if helm_bin:
        return render_with_binary(helm_bin, chart, values_file)
    return render_with_sdk(chart, values_file)


# --------------------------------------------------------------------------------------------------
# Validation


def _pod_specs(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [spec["template"]["spec"]]
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if obj["kind"] == "InferenceService":
        return [_predictor_pod(obj)["spec"]]
    return []


# Custom resources kubernetes-validate has no schema for: (apiVersion, kind) -> vendored JSON schema.
CRD_SCHEMAS = {
    ("serving.kserve.io/v1beta1", "InferenceService"): Path(__file__).parent
    / "schemas"
    / "inferenceservice-v1beta1.json"
}
# PredictorSpec fields that are KServe's own; the rest of the predictor is a Kubernetes PodSpec.
KSERVE_COMPONENT_FIELDS = {
    "minReplicas",
    "maxReplicas",
    "scaleMetric",
    "scaleTarget",
    "canaryTrafficPercent",
    "timeout",
}


def _predictor_pod(obj: dict) -> dict:
    """The predictor's PodSpec fields as a Pod, for the Kubernetes schema."""
    predictor = obj["spec"]["predictor"]
    spec = {k: v for k, v in predictor.items() if k not in KSERVE_COMPONENT_FIELDS}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": obj["metadata"]["name"]}, "spec": spec}


def _validate_builtin(obj: dict, kube_version: str) -> list[str]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    except kubernetes_validate.ValidationError as err:
        return [f"{'.'.join(str(p) for p in err.path) or '(top level)'}: {err.message}"]
    except kubernetes_validate.SchemaNotFoundError as err:
        return [err.message]
    return []


def _validate_custom(obj: dict, kube_version: str) -> list[str]:
    """A custom resource against its vendored schema (and its pod against Kubernetes'); the errors."""
    import json

    import jsonschema
    import kubernetes_validate

    schema = json.loads(CRD_SCHEMAS[(obj["apiVersion"], obj["kind"])].read_text(encoding="utf-8"))
    errors = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(obj)
    ]
    try:
        kubernetes_validate.validate(_predictor_pod(obj), kube_version, strict=True)
    except kubernetes_validate.ValidationError as err:
        errors.append(f"spec.predictor.{'.'.join(str(p) for p in err.path)}: {err.message}")
    return errors


def check_objects(objects: list[dict], label: str, kube_version: str = KUBE_VERSION) -> None:
    """kubernetes-validate --strict on each object, then the chart's non-root promises.

    Raises:
        ChartLintError: Naming the values file, the object and the failing field.
    """

    errors = []
    for obj in objects:
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if (obj.get("apiVersion"), obj.get("kind")) in CRD_SCHEMAS:
            problems = _validate_custom(obj, kube_version)
        else:
            problems = _validate_builtin(obj, kube_version)
        if problems:
            errors += [f"{name}: {problem}" for problem in problems]
            continue
        for pod in _pod_specs(obj):
            if not pod.get("securityContext", {}).get("runAsNonRoot"):
                errors.append(f"{name}: pod securityContext.runAsNonRoot is not true")
            for container in pod.get("initContainers", []) + pod["containers"]:
                if container.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                    errors.append(f"{name}: container {container['name']} may escalate privileges")
    if errors:
        raise ChartLintError(
            f"{label}: {len(errors)} invalid manifest(s) for Kubernetes {kube_version}:\n  "
            + "\n  ".join(errors)
        )


def lint_values(chart: Path, values_file: Path | None, kube_version: str = KUBE_VERSION) -> LintResult:
    """Render the chart with one values file (None = defaults) and validate everything it renders."""
    label = str(values_file or "default values")
    objects = []
    for template, text in sorted(render(chart, values_file).items()):
        if template.endswith("NOTES.txt") or not text.strip():
            continue
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as err:
            raise ChartLintError(f"{label}: {template} renders to invalid YAML: {err}") from None
        objects += [doc for doc in documents if doc]
    check_objects(objects, label, kube_version)
    return LintResult(label, objects)


def values_files(chart: Path) -> list[Path | None]:
    """The defaults (None) and every `ci/*-values.yaml` of the chart."""
    return [None, *sorted((chart / "ci").glob("*-values.yaml"))]


def lint_chart(
    chart: Path, files: list[Path | None] | None = None, kube_version: str = KUBE_VERSION
) -> list[LintResult]:
    """Lint the chart for each values file; the first failure raises `ChartLintError`."""
    if not (chart / "Chart.yaml").is_file():
        raise ChartLintError(f"{chart} is not a Helm chart (no Chart.yaml)")
    return [lint_values(chart, f, kube_version) for f in (files or values_files(chart))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chart", type=Path, nargs="?", default=Path("charts/slimnlp"))
    parser.add_argument("--values", type=Path, action="append", help="values file (default: defaults + ci/*)")
    parser.add_argument(
        "--kube-version", default=KUBE_VERSION, help=f"Kubernetes version (default {KUBE_VERSION})"
    )
    args = parser.parse_args(argv)
    engine = "helm binary" if shutil.which("helm") else "helm-python-sdk"
    try:
        results = lint_chart(args.chart, args.values, args.kube_version)
    except ChartLintError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for result in results:
        print(
            f"ok  {result.values_file}: {len(result.objects)} objects valid for Kubernetes {args.kube_version} ({engine})"
        )
        for kind in result.kinds:
            print(f"      {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
