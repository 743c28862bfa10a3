"""The step list (slimnlp.steps.spec) is the one record of the pipeline's steps: the CLI, the KFP
components, the DAG and the step functions must all agree with it, and it with tests/expected_steps.py."""

import inspect
import subprocess
import sys
import typing

import pytest

import slimnlp_components.grid_steps as grid_component_functions
import slimnlp_components.steps as component_functions
from slimnlp import steps
from slimnlp.config import RunConfig
from slimnlp.steps.entry import run_component
from slimnlp.steps.spec import GRID_STEPS, STEPS, dag_steps, step_spec
from slimnlp_pipelines.cli import build_parser
from tests import expected_steps

ALL_STEPS = STEPS + GRID_STEPS


def test_the_list_matches_the_independent_record():
    assert [s.name for s in STEPS if s.enabled_by is None] == expected_steps.STEPS
    assert [s.name for s in STEPS if s.enabled_by is not None] == expected_steps.OPTIONAL_STEPS
    assert {s.name: [i.name for i in s.inputs] for s in STEPS} == expected_steps.INPUTS
    assert [s.name for s in STEPS if s.gpu] == expected_steps.GPU_STEPS
    assert [s.name for s in STEPS if s.side_effects] == ["promote"]


def test_every_producer_comes_earlier_in_the_list():
    seen: set[str] = set()
    for step in ALL_STEPS:
        for item in step.inputs:
            assert item.producer in seen, f"{step.name} reads {item.producer} before it runs"
        seen.add(step.name)


def test_dag_holds_pretrain_mlm_only_when_enabled():
    cfg = RunConfig()
    assert [s.name for s in dag_steps(cfg)] == expected_steps.STEPS
    import dataclasses

    enabled = dataclasses.replace(cfg, pretrain=dataclasses.replace(cfg.pretrain, enabled=True))
    assert [s.name for s in dag_steps(enabled)][:3] == ["prepare-data", "pretrain-mlm", "train-teacher"]


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.name)
def test_component_signature_matches_the_list(step):
    """Each KFP component takes the three common parameters, every input by its listed name and
    artifact kind (optional ones default to None), the values, one output and its metrics."""
    name = step.name.replace("-", "_")
    function = getattr(component_functions, name, None) or getattr(grid_component_functions, name)
    params = inspect.signature(function).parameters
    hints = {k: str(v) for k, v in typing.get_type_hints(function, include_extras=True).items()}
    expected = ["config_json", "parent_run_id", "tracking_uri", *step.values]
    expected += [i.name for i in step.inputs if not i.optional] + [step.output, "metrics"]
    expected += [i.name for i in step.inputs if i.optional]
    # What the KFP UI shows of a step's results (slimnlp.mlops.ui_outputs) follows its metrics; every
    # step of the compress pipeline takes the data's fingerprint last (KFP's cache key).
    shown = {"benchmark": ["report", "figures", "confusion", "summary"], "promote": ["decision_md"]}
    expected += shown.get(step.name, []) + (["data_fingerprint"] if step in STEPS else [])
    assert list(params) == expected
    for item in step.inputs:  # the artifact kind its producer writes, as an input
        kind = step_spec(item.producer).output_kind
        assert "InputAnnotation" in hints[item.name] and f"artifact_types.{kind}" in hints[item.name], item
        if item.optional:
            assert params[item.name].default is None
    assert (
        "OutputAnnotation" in hints[step.output]
        and f"artifact_types.{step.output_kind}," in hints[step.output]
    )
    assert "OutputAnnotation" in hints["metrics"] and "artifact_types.Metrics," in hints["metrics"]


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.name)
def test_step_function_takes_every_input_by_keyword(step):
    params = inspect.signature(step.load()).parameters
    for name in ["cfg", "out_dir", "parent_run_id", *step.values, *(i.param for i in step.inputs)]:
        assert name in params, f"{step.function} has no parameter {name}"
        assert params[name].kind is not inspect.Parameter.POSITIONAL_ONLY


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_cli_verb_has_a_flag_per_input(step):
    verbs = build_parser()._subparsers._group_actions[0].choices
    options = {o for action in verbs[step.name]._actions for o in action.option_strings}
    assert {i.option for i in step.inputs} | {"--out", "--parent-run-id", "--config", "--set"} <= options


def test_steps_package_is_torch_free_and_resolves_functions_lazily():
    code = (
        "import sys; from slimnlp import steps; from slimnlp.steps import spec; "
        "assert 'torch' not in sys.modules, 'the step list imported torch'; "
        "print(callable(steps.prune))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        steps.nonexistent  # noqa: B018


def test_run_component_passes_inputs_by_name(tmp_path):
    with pytest.raises(TypeError, match=r"step prune has no input\(s\) \['students'\]"):
        run_component("prune", RunConfig().to_json(), "", "", str(tmp_path), data="d", students="s")
    with pytest.raises(TypeError, match=r"step distill needs input\(s\) \['student'\]"):
        run_component("distill", RunConfig().to_json(), "", "", str(tmp_path), data="d", teacher="t")
    with pytest.raises(KeyError, match="no step 'prunes'"):
        step_spec("prunes")


def test_python_dash_m_slimnlp_is_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "slimnlp", "prune", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--teacher DIR" in result.stdout and "--data DIR" in result.stdout


def test_pyproject_lists_every_package():
    """A package missing from [tool.setuptools] packages is missing from the wheel and the images."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "slimnlp" + "".join("." + part for part in init.parent.relative_to(root / "src/slimnlp").parts)
        for init in (root / "src/slimnlp").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to pyproject.toml [tool.setuptools] packages"
