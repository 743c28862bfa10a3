"""The `slimnlp` command: run the whole pipeline locally, compile it for KFP, or run one step.

    slimnlp run --set data.max_train_rows=100
    slimnlp run --set data.max_train_rows=100 --resume    # reuse the steps that finished
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
import shlex
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Options some step verbs take beyond their input directories: (flag, keyword of the step function, help).
STEP_OPTIONS: dict[str, list[tuple[str, str, str]]] = {
    "pretrain-mlm": [
        (
            "--corpus",
            "corpus",
            "text/CSV file, directory or s3:// URI (repeatable; default: pretrain.corpus)",
        )
    ],
}


def _prune_methods() -> str:
    from slimnlp.config import PRUNE_METHODS

    lines = [f"  {name:16s} {method.summary}" for name, method in PRUNE_METHODS.items()]
    return "pruning methods (--set prune.method=NAME; settings under prune.NAME.*):\n" + "\n".join(lines)


# Text under a step verb's --help, computed when the parser is built (torch-free).
STEP_EPILOGS: dict[str, Callable[[], str]] = {"prune": _prune_methods}


# Verb groups that live in their own modules; each has `add_verbs(verbs, common) -> {verb: command}`
# and must stay light to import (no torch, kfp or mlflow at module level).
EXTENSIONS = (
    "slimnlp_pipelines.cli_registry",  # registry list | promote | rollback, mlflow-server
    "slimnlp_pipelines.cli_kfp",  # submit, schedule, schedules
    "slimnlp_pipelines.cli_report",  # report
    "slimnlp_pipelines.cli_mlm",  # vocab-transfer
    "slimnlp_pipelines.cli_config",  # config-schema (and each step's config keys in its --help)
    "slimnlp_pipelines.cli_serve",  # serve
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
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show tracebacks on errors (run: stream every step's output)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slimnlp",
        description="Compress transformer text classifiers: prune, distill, AMP fine-tune, ONNX, benchmark.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    run = verbs.add_parser(
        "run",
        help="run the whole pipeline locally (kfp.local) under one MLflow run",
        description="Run the whole pipeline locally with kfp.local: one row per step, each step's "
        "full log in <run dir>/logs/<step>.log (--verbose streams it all).",
    )
    _common(run)
    run.add_argument(
        "--resume",
        action="store_true",
        help="reuse every finished step whose inputs and config section are unchanged (by hash); "
        "rerun from the first that is not",
    )
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="run every step; by default a step whose config slice and inputs are unchanged is reused "
        "(never prepare-data or promote)",
    )
    run.add_argument(
        "--skip-preflight", action="store_true", help="start without checking data, teacher, servers, disk"
    )

    check = verbs.add_parser(
        "preflight",
        help="check data, teacher checkpoint, tracking server, S3 credentials and disk (what `run` checks first)",
        description="The checks `slimnlp run` makes before its first step; one line per problem.",
    )
    _common(check)

    compile_ = verbs.add_parser(
        "compile",
        help="compile the KFP pipeline to an IR YAML file",
        description="Compile the KFP pipeline; the config is the default of every run parameter, and its "
        "kubernetes.* settings are fixed in the compiled YAML.",
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

    from slimnlp.steps.spec import STEPS, step_spec

    for spec in STEPS:
        sub = verbs.add_parser(
            spec.name,
            help=f"step: {spec.help}",
            description=f"Run one step: {spec.help}.",
            epilog=STEP_EPILOGS.get(spec.name, lambda: None)(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(sub)
        for item in spec.inputs:
            default = step_spec(item.producer).output_dir
            when = " when it exists" if item.optional else ""
            sub.add_argument(
                item.option,
                dest=item.name,
                metavar="DIR",
                help=f"{item.help} (default: <run dir>/{default}{when})",
            )
        for flag, _, text in STEP_OPTIONS.get(spec.name, []):
            sub.add_argument(flag, action="append", default=[], metavar="VALUE", help=text)
        sub.add_argument(
            "--out", metavar="DIR", help=f"output directory (default: <run dir>/{spec.output_dir})"
        )
        sub.add_argument(
            "--parent-run-id",
            default=None,
            metavar="RUN_ID",
            help="MLflow run to nest this step's run under (default: none)",
        )
        sub.set_defaults(step=spec.name)
    for module in EXTENSIONS:
        COMMANDS.update(importlib.import_module(module).add_verbs(verbs, _common))
    return parser


# --------------------------------------------------------------------------------------------------
# Verbs


def _load(args: argparse.Namespace):
    from slimnlp.config import load_config

    return load_config(args.config, args.overrides)


def cmd_run(args: argparse.Namespace) -> int:
    from slimnlp_pipelines.local_run import run_local
    from slimnlp_pipelines.run_report import print_summary

    cfg = _load(args)
    if not args.skip_preflight and _preflight(cfg, quiet=True) != 0:
        return 2
    run = run_local(
        cfg,
        resume=args.resume,
        cache=not args.no_cache,
        verbose=args.verbose,
        resume_command=resume_command(args),
    )
    print_summary(run)
    return 0


def resume_command(args: argparse.Namespace) -> str:
    """The `slimnlp run ... --resume` that continues this run (what a failure message shows)."""
    words = ["slimnlp", "run"]
    if args.config:
        words += ["--config", args.config]
    for override in args.overrides:
        words += ["--set", override]
    return shlex.join([*words, "--resume"])


def _preflight(cfg: Any, quiet: bool) -> int:
    from slimnlp.preflight import format_problems, run_preflight

    problems, seconds = run_preflight(cfg)
    if problems:
        print(format_problems(problems), file=sys.stderr)
        return 2
    if not quiet:
        print(f"preflight: no problems ({seconds:.1f} s)")
    return 0


def cmd_preflight(args: argparse.Namespace) -> int:
    return _preflight(_load(args), quiet=False)


def cmd_compile(args: argparse.Namespace) -> int:
    from slimnlp_pipelines.compress import compile_pipeline, describe_parameters

    cfg = _load(args)
    out = compile_pipeline(cfg, args.out)
    print(f"wrote {out}")
    if not cfg.grid.enabled:  # the grid pipeline takes its config as one JSON parameter
        print(describe_parameters(cfg))
    return 0


def cmd_mlflow_ui(args: argparse.Namespace) -> int:
    from slimnlp.mlops.tracking import tracking_uri

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


def _step_inputs(args: argparse.Namespace, spec: Any, run_dir: Path) -> dict[str, str]:
    """Each input directory by its function keyword: the flag's value, else `<run dir>/<producer's
    folder>`; an optional input is left out unless given or its producer's folder exists (and, for
    a step the config can leave out of the DAG, that step is enabled)."""
    from slimnlp.steps.spec import step_spec

    found = {}
    for item in spec.inputs:
        given = getattr(args, item.name)
        value = given or str(run_dir / step_spec(item.producer).output_dir)
        if item.optional and not given and not Path(value).is_dir():
            continue
        if not Path(value).is_dir():
            raise UsageError(
                f"{item.option} {value} is not a directory; pass the {item.help} ({item.option} DIR)"
            )
        found[item.param] = value
    return found


def cmd_step(args: argparse.Namespace) -> int:
    from slimnlp.steps.spec import step_spec

    cfg = _load(args)
    spec = step_spec(args.step)
    inputs = _step_inputs(args, spec, cfg.run_dir)
    for item in spec.inputs:  # an optional input found on disk from a step this config leaves out
        if item.optional and not getattr(args, item.name) and not step_spec(item.producer).enabled(cfg):
            inputs.pop(item.param, None)  # (a stale pretrain-mlm output of another config)
    options = {
        key: getattr(args, flag.lstrip("-")) or None for flag, key, _ in STEP_OPTIONS.get(spec.name, [])
    }
    out = args.out or str(cfg.run_dir / spec.output_dir)
    Path(out).mkdir(parents=True, exist_ok=True)
    # torch and transformers: only after the arguments are known to be good
    metrics = spec.load()(cfg, out_dir=out, parent_run_id=args.parent_run_id, **inputs, **options)
    print(json.dumps(metrics, indent=2, sort_keys=True, default=str))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "preflight": cmd_preflight,
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
        again = (
            f"; finished steps are kept, continue with: {resume_command(args)}" if args.verb == "run" else ""
        )
        print(f"interrupted (Ctrl-C or SIGTERM){again}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
