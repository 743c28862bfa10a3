"""The `slimnlp` command: run the whole pipeline locally, compile it for KFP, or run one step.

    slimnlp run --set data.max_train_rows=100
    slimnlp compile --config configs/default.yaml --set kubernetes.accelerator_limit=2 --out pipeline.yaml
    slimnlp prepare-data --out runs/x/data
    slimnlp train-teacher --data runs/x/data --out runs/x/teacher

Step verbs default their input and output directories to `<run dir>/<step output>`, so running
the verbs in order by hand gives the same layout every time. Config, data and model errors print
`error: ...` and exit 2; `--verbose` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Default folder (inside the run dir) of each step's output, used when --out / inputs are omitted.
OUTPUT_DIRS = {
    "prepare-data": "data",
    "train-teacher": "teacher",
    "prune": "pruned",
    "distill": "distilled",
    "finetune-amp": "student",
    "export-onnx": "onnx",
    "benchmark": "benchmark",
    "promote": "promote",
}

# Inputs of each step verb: (flag, producing step, help).
STEP_INPUTS: dict[str, list[tuple[str, str, str]]] = {
    "prepare-data": [],
    "train-teacher": [("--data", "prepare-data", "prepared data directory")],
    "prune": [
        ("--data", "prepare-data", "prepared data directory"),
        ("--teacher", "train-teacher", "teacher model directory"),
    ],
    "distill": [
        ("--data", "prepare-data", "prepared data directory"),
        ("--teacher", "train-teacher", "teacher model directory"),
        ("--student", "prune", "student model directory to distil into"),
    ],
    "finetune-amp": [
        ("--data", "prepare-data", "prepared data directory"),
        ("--teacher", "train-teacher", "teacher model directory (KD term)"),
        ("--student", "distill", "student model directory to fine-tune"),
    ],
    "export-onnx": [
        ("--data", "prepare-data", "prepared data directory (parity texts)"),
        ("--model", "finetune-amp", "model directory to export"),
    ],
    "benchmark": [
        ("--data", "prepare-data", "prepared data directory (test set)"),
        ("--teacher", "train-teacher", "teacher model directory"),
        ("--student", "finetune-amp", "final student model directory"),
        ("--onnx", "export-onnx", "student ONNX directory"),
    ],
    "promote": [
        ("--data", "prepare-data", "prepared data directory (test set)"),
        ("--teacher", "train-teacher", "teacher model directory"),
        ("--onnx", "export-onnx", "student ONNX directory (what is registered)"),
        ("--results", "benchmark", "benchmark output directory (results.json)"),
    ],
}

STEP_HELP = {
    "prepare-data": "load, clean and split the labelled data",
    "train-teacher": "fine-tune (or build and train) the teacher",
    "prune": "structured pruning of heads and FFN neurons",
    "distill": "distil the teacher into the pruned student",
    "finetune-amp": "mixed-precision fine-tune of the student",
    "export-onnx": "export the student to ONNX with a parity check",
    "benchmark": "teacher vs. students: accuracy, latency, size",
    "promote": "register the student in MLflow; champion only if the gate passes",
}


# Verb groups that live in their own modules; each has `add_verbs(verbs, common) -> {verb: command}`
# and must stay light to import (no torch, kfp or mlflow at module level).
EXTENSIONS = (
    "slimnlp_pipelines.cli_registry",  # registry list | promote | rollback, mlflow-server
    "slimnlp_pipelines.cli_kfp",  # submit, schedule, schedules
    "slimnlp_pipelines.cli_report",  # report
    "slimnlp_pipelines.cli_mlm",  # pretrain-mlm, vocab-transfer
)


class UsageError(ValueError):
    """A command-line mistake that is not a config error (printed as `error: ...`, exit 2)."""


# --------------------------------------------------------------------------------------------------
# Parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", help="run config file (default: built-in defaults)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set prune.target_sparsity=0.4 (repeatable)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slimnlp",
        description="Compress transformer text classifiers: prune, distill, AMP fine-tune, ONNX, benchmark.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    run = verbs.add_parser(
        "run",
        help="run the whole pipeline locally (kfp.local) under one MLflow run",
        description="Run the whole pipeline locally with kfp.local.",
    )
    _common(run)

    compile_ = verbs.add_parser(
        "compile",
        help="compile the KFP pipeline to an IR YAML file",
        description="Compile the KFP pipeline; the config is the default of its config_json parameter.",
    )
    _common(compile_)
    compile_.add_argument(
        "--out", default="pipeline.yaml", help="YAML file to write (default: pipeline.yaml)"
    )

    ui = verbs.add_parser(
        "mlflow-ui",
        help="start the MLflow UI on the run's tracking store (127.0.0.1)",
        description="Start `mlflow ui` on the run's SQLite store, bound to 127.0.0.1.",
    )
    _common(ui)
    ui.add_argument("--port", type=int, default=5000, help="port (default: 5000)")

    for step, inputs in STEP_INPUTS.items():
        sub = verbs.add_parser(
            step, help=f"step: {STEP_HELP[step]}", description=f"Run one step: {STEP_HELP[step]}."
        )
        _common(sub)
        for flag, producer, text in inputs:
            sub.add_argument(flag, metavar="DIR", help=f"{text} (default: <run dir>/{OUTPUT_DIRS[producer]})")
        sub.add_argument(
            "--out", metavar="DIR", help=f"output directory (default: <run dir>/{OUTPUT_DIRS[step]})"
        )
        sub.add_argument(
            "--parent-run-id",
            default=None,
            metavar="RUN_ID",
            help="MLflow run to nest this step's run under (default: none)",
        )
        sub.set_defaults(step=step)
    for module in EXTENSIONS:
        COMMANDS.update(importlib.import_module(module).add_verbs(verbs, _common))
    return parser


# --------------------------------------------------------------------------------------------------
# Verbs


def _load(args: argparse.Namespace):
    from slimnlp.config import load_config

    return load_config(args.config, args.overrides)


def cmd_run(args: argparse.Namespace) -> int:
    from slimnlp_pipelines.local_run import print_summary, run_local

    run = run_local(_load(args))
    print_summary(run)
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from slimnlp_pipelines.compress import compile_pipeline

    out = compile_pipeline(_load(args), args.out)
    print(f"wrote {out}")
    return 0


def cmd_mlflow_ui(args: argparse.Namespace) -> int:
    from slimnlp.tracking import tracking_uri

    uri = tracking_uri(_load(args))
    if not (uri.startswith("sqlite:") or uri.startswith("file:")):
        print(f"tracking goes to a server: open {uri} in a browser")
        return 0
    store = Path(uri.removeprefix("sqlite:///"))
    if uri.startswith("sqlite:") and not store.is_file():
        raise UsageError(f"no MLflow store at {store}; run `slimnlp run` (with the same --config) first")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    print("mlflow " + " ".join(command[3:]), flush=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0


def cmd_step(args: argparse.Namespace) -> int:
    cfg = _load(args)
    run_dir = cfg.run_dir

    def path(value: str | None, producer: str) -> str:
        return value or str(run_dir / OUTPUT_DIRS[producer])

    inputs = [path(getattr(args, flag.lstrip("-")), producer) for flag, producer, _ in STEP_INPUTS[args.step]]
    for (flag, _, text), value in zip(STEP_INPUTS[args.step], inputs, strict=True):
        if not Path(value).is_dir():
            raise UsageError(f"{flag} {value} is not a directory; pass the {text} ({flag} DIR)")
    out = path(args.out, args.step)
    Path(out).mkdir(parents=True, exist_ok=True)
    from slimnlp import steps  # torch and transformers: only after the arguments are known to be good

    step: Callable[..., dict[str, Any]] = getattr(steps, args.step.replace("-", "_"))
    metrics = step(cfg, *inputs, out_dir=out, parent_run_id=args.parent_run_id)
    print(json.dumps(metrics, indent=2, sort_keys=True, default=str))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "compile": cmd_compile,
    "mlflow-ui": cmd_mlflow_ui,
}


# --------------------------------------------------------------------------------------------------
# Entry point


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS.get(args.verb, cmd_step)
    from slimnlp.config import ConfigError
    from slimnlp_pipelines.local_run import PipelineFailed

    try:
        return command(args)
    except (ConfigError, UsageError, ValueError, FileNotFoundError) as err:
        # People's mistakes (a config key, a data file, a model directory): the message says what to fix.
        if args.verbose:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return 2
    except PipelineFailed as err:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
