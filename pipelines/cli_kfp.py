"""`slimnlp` verbs that talk to a Kubeflow Pipelines server: upload, submit, schedule, schedules.

    slimnlp upload   --host http://localhost:8080 --config configs/mahanews-shc.yaml
    slimnlp submit   --host http://localhost:8080 --experiment slimnlp --param data_dir=s3://data/shc
    slimnlp schedule --host http://localhost:8080 --cron "0 3 * * 1" --config configs/mahanews-shc.yaml
    slimnlp schedules list   --host http://localhost:8080
    slimnlp schedules pause  --host http://localhost:8080 RECURRING_RUN_ID

The logic lives in `slimnlp_pipelines.kfp_client` and `kfp_pipelines`; this module only parses and prints, and stays
light to import (kfp is imported when a verb runs).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

HOST_ENV = "KF_PIPELINES_ENDPOINT"


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=os.environ.get(HOST_ENV),
        metavar="URL",
        help=f"KFP API endpoint, e.g. http://localhost:8080 (default: ${HOST_ENV})",
    )
    parser.add_argument(
        "--namespace", default=None, help="profile namespace of a multi-user KFP (default: single-user)"
    )
    parser.add_argument(
        "--token-file",
        default=None,
        metavar="FILE",
        help="file holding a bearer token (default: $SLIMNLP_KFP_TOKEN, $SLIMNLP_KFP_TOKEN_FILE, "
        "or the pod's KFP service-account token); the token is never printed",
    )


def _run_args(parser: argparse.ArgumentParser) -> None:
    _server_args(parser)
    parser.add_argument(
        "--experiment", default="Default", help="KFP experiment; must exist (default: Default)"
    )
    parser.add_argument(
        "--create-experiment", action="store_true", help="create the experiment when it does not exist"
    )
    parser.add_argument(
        "--tracking-uri",
        default="",
        metavar="URI",
        help="MLflow tracking URI the steps log to, e.g. http://slimnlp-mlflow.mlops:5000",
    )


def _param_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="run parameter (repeatable; `slimnlp compile` lists them), e.g. data_dir=s3://data/shc, "
        "max_drop_vs_teacher=0.01, overrides=distill.epochs=2 (adds one --set-style override)",
    )


def add_verbs(verbs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> dict:
    """Add upload, submit, schedule and schedules to `verbs`; return {verb: command(args) -> exit code}."""
    upload = verbs.add_parser(
        "upload",
        help="upload the pipeline (or a new version of it) to a KFP server",
        description="Create the config's pipeline on a KFP server, or a new version of it (name "
        "slimnlp-<name>, version <slimnlp version>-<config digest>); an unchanged config uploads nothing.",
    )
    common(upload)
    _server_args(upload)

    submit = verbs.add_parser(
        "submit",
        help="run the config's pipeline version on a KFP server (uploaded when missing)",
        description="Start a run of the config's pipeline version on a KFP server, uploading the "
        "version when it is missing; prints the run's URL.",
    )
    common(submit)
    _run_args(submit)
    _param_args(submit)
    submit.add_argument("--run-name", default=None, help="run display name (default: <name> <UTC time>)")
    submit.add_argument(
        "--no-cache", action="store_true", help="run every step (by default unchanged steps are reused)"
    )

    schedule = verbs.add_parser(
        "schedule",
        help="create a KFP recurring run (scheduled retraining)",
        description="Create a recurring run on a KFP server; shows the next three fire times first.",
    )
    common(schedule)
    _run_args(schedule)
    _param_args(schedule)
    schedule.add_argument(
        "--cron",
        required=True,
        help='five fields ("0 3 * * 1": Mondays 03:00 UTC), six with seconds first, or @daily/@weekly/...',
    )
    schedule.add_argument("--name", default=None, help="recurring run name (default: <name>-retrain)")
    schedule.add_argument("--catchup", action="store_true", help="backfill runs missed while paused")
    schedule.add_argument(
        "--dry-run", action="store_true", help="validate the cron and show the fire times; create nothing"
    )

    schedules = verbs.add_parser(
        "schedules",
        help="list, pause, resume or delete KFP recurring runs",
        description="Manage the recurring runs on a KFP server.",
    )
    actions = schedules.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list recurring runs")
    _server_args(listing)
    listing.add_argument("--experiment", default=None, help="only this experiment's recurring runs")
    for action, text in (("pause", "disable"), ("resume", "enable"), ("delete", "delete")):
        sub = actions.add_parser(action, help=f"{text} one recurring run")
        _server_args(sub)
        sub.add_argument("recurring_run_id", metavar="ID", help="recurring run id (see `schedules list`)")
    for sub in (listing, *[actions.choices[a] for a in ("pause", "resume", "delete")]):
        sub.add_argument("--verbose", "-v", action="store_true", help="show tracebacks on errors")
    return {"upload": cmd_upload, "submit": cmd_submit, "schedule": cmd_schedule, "schedules": cmd_schedules}


# --------------------------------------------------------------------------------------------------
# Commands


def _host(args: argparse.Namespace) -> str:
    from slimnlp_pipelines.kfp_client import KfpError

    if not args.host:
        raise KfpError(f"no KFP host: pass --host URL or set ${HOST_ENV}")
    return args.host


def _target(args: argparse.Namespace):
    from slimnlp_pipelines.kfp_client import Target

    return Target(
        host=_host(args),
        experiment=args.experiment,
        create_experiment=args.create_experiment,
        namespace=args.namespace,
        token_file=args.token_file,
        tracking_uri=args.tracking_uri,
    )


def _print_version(version) -> None:
    what = "uploaded" if version.uploaded else "found"
    print(
        f"{what} pipeline {version.pipeline_name!r} version {version.version_name!r} ({version.version_id})"
    )


def cmd_upload(args: argparse.Namespace) -> int:
    from slimnlp.config import load_config
    from slimnlp_pipelines.kfp_client import connect
    from slimnlp_pipelines.kfp_pipelines import upload

    cfg = load_config(args.config, args.overrides)
    version = upload(connect(_host(args), args.token_file, args.namespace), cfg)
    _print_version(version)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from slimnlp.config import load_config
    from slimnlp_pipelines.kfp_pipelines import parse_params, run_url, submit

    cfg = load_config(args.config, args.overrides)
    params = parse_params(cfg, args.params)
    run_id, version = submit(cfg, _target(args), params, run_name=args.run_name, cache=not args.no_cache)
    _print_version(version)
    print(f"submitted run {run_id} in experiment {args.experiment!r}")
    print(f"  {run_url(args.host, run_id)}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from slimnlp.config import load_config
    from slimnlp_pipelines.kfp_client import next_fire_times, to_kfp_cron
    from slimnlp_pipelines.kfp_pipelines import parse_params, schedule

    kfp_cron = to_kfp_cron(args.cron)  # a bad cron fails before the config, the compile or the host
    cfg = load_config(args.config, args.overrides)
    params = parse_params(cfg, args.params)
    print(f"cron {args.cron!r} -> KFP {kfp_cron!r}; next fire times (UTC):")
    for when in next_fire_times(kfp_cron):
        print(f"  {when:%a %Y-%m-%d %H:%M:%S}")
    if args.dry_run:
        print("dry run: nothing created")
        return 0
    recurring_id, version = schedule(
        cfg, _target(args), kfp_cron, params, name=args.name, catchup=args.catchup
    )
    _print_version(version)
    print(
        f"created recurring run {recurring_id} in experiment {args.experiment!r} on version {version.version_name!r}"
    )
    print(f"  {args.host.rstrip('/')}/#/recurringrun/details/{recurring_id}")
    return 0


def cmd_schedules(args: argparse.Namespace) -> int:
    from slimnlp_pipelines.kfp_client import change_schedule, connect, list_schedules

    client = connect(_host(args), args.token_file, args.namespace)
    if args.action != "list":
        change_schedule(client, args.recurring_run_id, args.action)
        done = {"pause": "paused", "resume": "resumed", "delete": "deleted"}[args.action]
        print(f"{done} recurring run {args.recurring_run_id}")
        return 0
    rows = list_schedules(client, args.experiment, args.namespace)
    if not rows:
        print("no recurring runs")
        return 0
    columns = ["id", "name", "status", "cron", "created"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    return 0
