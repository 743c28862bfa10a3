"""`slimnlp config-schema`: a JSON Schema that every shipped config passes and that rejects what
`load_config` rejects, from the same field declarations."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from slimnlp.config import ConfigError, RunConfig, load_config
from slimnlp.config.base import type_hints
from slimnlp.config.schema import json_schema
from slimnlp_pipelines.cli import main

ROOT = Path(__file__).parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml")) + sorted((ROOT / "benchmarks").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(validator, path):
    errors = [
        f"{'.'.join(map(str, e.path))}: {e.message}"
        for e in validator.iter_errors(yaml.safe_load(path.read_text()))
    ]
    assert errors == []


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"teacher": {"learning_rate": -1}}, "teacher.learning_rate"),
        ({"teacher": {"dropout": 1.5}}, "teacher.dropout"),
        ({"distill": {"student": "wide"}}, "distill.student"),
        ({"teacher": {"colour": "red"}}, "teacher"),  # unknown key
        ({"benchmark": {"batch_sizes": []}}, "benchmark.batch_sizes"),
        ({"benchmark": {"runtimes": ["onnx", "tensorrt"]}}, "benchmark.runtimes.1"),
        ({"export": {"quantize_int8": "yes"}}, "export.quantize_int8"),
        ({"kubernetes": {"memory_limit": "16 GB"}}, "kubernetes.memory_limit"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_a_bad_value_fails_the_schema_and_the_loader(validator, values, where, tmp_path):
    errors = list(validator.iter_errors(values))
    assert [".".join(map(str, e.path)) for e in errors] == [where]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    with pytest.raises(ConfigError, match=where.split(".")[0]):
        load_config(path)


def _bounded_leaves(cls=RunConfig, prefix=""):
    for item in dataclasses.fields(cls):
        hint = type_hints(cls)[item.name]
        if dataclasses.is_dataclass(hint):
            yield from _bounded_leaves(hint, f"{prefix}{item.name}.")
        elif "check" in item.metadata and item.metadata["check"].lower is not None:
            yield f"{prefix}{item.name}", item.metadata["check"], hint


def test_every_declared_lower_bound_is_in_the_schema_and_enforced_by_the_loader(validator):
    """One value just below each declared lower bound: the schema and the loader both refuse it, so
    the two cannot drift apart."""
    checked = 0
    for key, rule, hint in _bounded_leaves():
        kind, bound = rule.lower
        value = bound - 1 if kind == "ge" else bound
        is_list = "list" in str(hint)
        written = [value] if is_list else value
        doc: dict = {}
        node = doc
        *sections, name = key.split(".")
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = written
        assert list(validator.iter_errors(doc)), f"the schema accepts {key}={written}"
        with pytest.raises(ConfigError, match=rf"^{key}(\[0\])? must be"):
            load_config(overrides=[f"{key}={json.dumps(written)}"])
        checked += 1
    assert checked >= 40


def test_the_schema_holds_the_defaults_and_help():
    schema = json_schema()
    teacher = schema["properties"]["teacher"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert teacher["additionalProperties"] is False and schema["additionalProperties"] is False
    rate = teacher["properties"]["learning_rate"]
    assert rate == {
        "description": "Peak learning rate (linear warm-up and decay).",
        "type": "number",
        "default": 5e-4,
        "exclusiveMinimum": 0,
    }
    assert teacher["properties"]["vocab_transfer"]["type"] == ["integer", "null"]
    assert schema["properties"]["finetune_amp"]["properties"]["precision"]["enum"] == [
        "auto",
        "fp16",
        "bf16",
        "fp32",
    ]
    assert schema["properties"]["grid"]["properties"]["sparsities"]["items"]["exclusiveMaximum"] == 1
    defaults = load_config().to_dict()
    for section in ("teacher", "distill", "benchmark", "kubernetes"):
        for name, prop in schema["properties"][section]["properties"].items():
            assert prop["default"] == defaults[section][name], f"{section}.{name}"


def test_cli_prints_the_schema_and_the_keys(capsys, tmp_path):
    assert main(["config-schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    assert main(["config-schema", "--keys", "--out", str(tmp_path / "keys.txt")]) == 0
    keys = (tmp_path / "keys.txt").read_text()
    assert "  teacher.learning_rate: float = 0.0005; > 0\n      Peak learning rate" in keys
    assert "  benchmark.batch_sizes: list[int] = [1, 32]; a non-empty list, each >= 1\n" in keys


def test_a_step_verbs_help_lists_its_keys_with_what_they_accept(capsys):
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    out = capsys.readouterr().out
    assert "config keys (--set distill.KEY=VALUE" in out
    assert "  distill.alpha: float = 0.7; in [0, 1]\n" in out
    assert "  distill.student: str = \"pruned\"; 'pruned' or 'layers'\n" in out
    with pytest.raises(SystemExit):
        main(["prune", "--help"])
    out = capsys.readouterr().out
    assert (
        "pruning methods (--set prune.method=NAME" in out and "  prune.target_sparsity: float = 0.25" in out
    )
