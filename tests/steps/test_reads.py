"""Every step and every pruning method reads only the config it declares (`Step.reads`,
`PruneMethod.reads`): the resume keys (and KFP cache keys) hash exactly that, so an undeclared read
would reuse a stale result, and a declared one that nothing reads would rerun a step for nothing.

The reads are found in the source (AST): every `cfg.<key>` in a step function and in each function
it hands `cfg` to, followed across modules; every `context.run.<key>` in a method's folder. What
tracks a step (MLflow: `step_body`, `slimnlp.mlops.tracking`) is not part of what it computes and is
not followed.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

import pytest

from slimnlp.config import load_config
from slimnlp.prune.methods import PRUNE_METHODS
from slimnlp.steps.spec import GRID_STEPS, STEPS, Step, step_reads

# Where a step logs, not what it computes: not followed.
TRACKING = ("slimnlp.steps.common.step_body", "slimnlp.mlops.tracking.")
# Receives the run config for the pruner (`context.run`): the method's reads, checked below.
PRUNE_CONTEXT = "slimnlp.prune.base.PruneContext"
# Properties of the run config and the top-level keys they read.
PROPERTIES = {"run_dir": {"output_dir", "name"}}


@functools.cache
def _module(name: str) -> tuple[ast.Module, dict[str, str]]:
    """A module's syntax tree and its imported names ({local name: qualified name})."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, name
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    package = name if spec.origin.endswith("__init__.py") else name.rpartition(".")[0]
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names |= {a.asname or a.name: f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {
                a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                for a in node.names
            }
    return tree, names


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _definition(qualified: str) -> tuple[str, ast.FunctionDef | ast.ClassDef] | None:
    """(module, node) of a function or class by qualified name, through re-exports."""
    module, _, name = qualified.rpartition(".")
    if not module.startswith("slimnlp") or not _is_module(module):
        return None
    tree, names = _module(module)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return module, node
    return _definition(names[name]) if name in names and names[name] != qualified else None


def _callee(module: str, call: ast.Call) -> str | None:
    """The qualified name a call goes to, when the source says it."""
    _, names = _module(module)
    func = call.func
    target = None
    if isinstance(func, ast.Name):
        target = names.get(func.id, f"{module}.{func.id}")
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in names:
        target = f"{names[func.value.id]}.{func.attr}"
    found = _definition(target) if target else None
    return f"{found[0]}.{found[1].name}" if found else target


def _parameter(node: ast.FunctionDef, call: ast.Call, name: str) -> str | None:
    """The callee's parameter that receives the variable `name` at this call."""
    params = [a.arg for a in node.args.posonlyargs + node.args.args]
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Name) and arg.id == name:
            return params[i] if i < len(params) else None
    for keyword in call.keywords:
        if isinstance(keyword.value, ast.Name) and keyword.value.id == name:
            return keyword.arg
    return None


def reads_of(module: str, function: str, param: str = "cfg", seen: frozenset = frozenset()) -> set[str]:
    """The top-level config keys `module.function` reads from its parameter `param`, following every
    call that hands it on."""
    found = _definition(f"{module}.{function}")
    assert found, f"{module}.{function} not found"
    module, node = found
    if (module, node.name, param) in seen:
        return set()
    seen = seen | {(module, node.name, param)}
    reads: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == param:
            reads |= PROPERTIES.get(sub.attr, {sub.attr})
        if not isinstance(sub, ast.Call):
            continue
        passed = [a for a in [*sub.args, *(k.value for k in sub.keywords)] if isinstance(a, ast.Name)]
        if not any(a.id == param for a in passed):
            continue
        target = _callee(module, sub)
        where = f"{module}.{node.name}, line {sub.lineno}"
        assert target, f"{where} hands {param} to a call this test cannot follow"
        if target.startswith(TRACKING) or target == PRUNE_CONTEXT:
            continue
        callee = _definition(target)
        assert callee and isinstance(callee[1], ast.FunctionDef), f"{where}: cannot follow {target}"
        received = _parameter(callee[1], sub, param)
        assert received, f"{where}: cannot tell which parameter of {target} gets {param}"
        reads |= reads_of(callee[0], callee[1].name, received, seen)
    return reads


def step_code_reads(step: Step) -> set[str]:
    module, _, function = step.function.partition(":")
    return reads_of(f"slimnlp.steps.{module}", function)


def method_code_reads(name: str) -> set[str]:
    """Every `context.run.<key>` (or `run.<key>` after `run = context.run ...`) in the method's folder."""
    folder = Path(importlib.util.find_spec(PRUNE_METHODS[name].pruner.partition(":")[0]).origin).parent
    reads: set[str] = set()
    for path in folder.glob("*.py"):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef):
                continue
            aliases = {"context.run"}
            for sub in ast.walk(function):
                if isinstance(sub, ast.Assign) and "context.run" in ast.unparse(sub.value):
                    aliases |= {t.id for t in sub.targets if isinstance(t, ast.Name)}
            for sub in ast.walk(function):
                if isinstance(sub, ast.Attribute) and ast.unparse(sub.value).removeprefix("self.") in aliases:
                    reads.add(sub.attr)
    return reads


# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [s for s in STEPS + GRID_STEPS if not s.side_effects], ids=lambda s: s.name)
def test_a_step_reads_what_it_declares_and_declares_what_it_reads(step):
    declared = {key for key in (step.section, *step.reads) if key}
    read = step_code_reads(step)
    assert read <= declared, f"{step.name} reads {sorted(read - declared)} without declaring it (Step.reads)"
    assert declared <= read | {step.section}, f"{step.name} declares {sorted(declared - read)} it never reads"


@pytest.mark.parametrize("name", list(PRUNE_METHODS))
def test_a_pruning_method_reads_what_its_record_declares(name):
    read = method_code_reads(name)
    assert read == set(PRUNE_METHODS[name].reads), f"{name} reads {sorted(read)} of the run config"


def test_the_finder_sees_reads_handed_on_and_aliased():
    # distill hands cfg to _zeros_kept_after (cfg.prune) and to loop_settings in another module (cfg.seed).
    assert {"distill", "prune", "seed"} <= step_code_reads(next(s for s in STEPS if s.name == "distill"))
    # nas reads the run config through an alias (`run = context.run`) in two functions.
    assert method_code_reads("nas") == {"benchmark", "export", "registry"}
    assert method_code_reads("importance") == set()


def test_the_prune_step_reads_its_method_sections():
    prune = next(s for s in STEPS if s.name == "prune")
    nas = load_config(overrides=["prune.method=nas"])
    assert set(step_reads(prune, nas)) == {"prune", "seed", "benchmark", "export", "registry"}
    assert set(step_reads(prune, load_config())) == {"prune", "seed"}
