"""Talk to a Kubeflow Pipelines server (KFP v2beta1 REST API): connect, experiments, cron, schedules.
Uploading versions, submitting and scheduling runs: `slimnlp_pipelines.kfp_pipelines`.

    slimnlp submit   --host https://kfp.example.org --experiment slimnlp --set data.dir=s3://data/shc
    slimnlp schedule --host https://kfp.example.org --cron "0 3 * * 1" --set data.dir=s3://data/shc
    slimnlp schedules list --host https://kfp.example.org

Everything that can be wrong is checked before anything is created on the server: the cron
expression (KFP wants six fields, seconds first; the usual five-field form is converted), that the
host answers its health check, and that the experiment exists.

Auth: a bearer token from $SLIMNLP_KFP_TOKEN, else from the file in --token-file or
$SLIMNLP_KFP_TOKEN_FILE, else KFP's projected service-account token inside a pod. The token is sent
as a header and never printed.

kfp is imported inside functions: the `slimnlp` CLI imports this module only when a KFP verb runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import kfp


TOKEN_ENV = "SLIMNLP_KFP_TOKEN"
TOKEN_FILE_ENV = "SLIMNLP_KFP_TOKEN_FILE"
HOST_ENV = "KF_PIPELINES_ENDPOINT"  # the variable kfp.Client itself reads
# Where a pod with KFP's projected service-account token volume finds it (multi-user KFP).
SA_TOKEN_PATH = Path("/var/run/secrets/kubeflow/pipelines/token")
HEALTHZ = "/apis/v2beta1/healthz"

# robfig/cron (KFP's scheduler) names; it has no L, W, # or H fields, which croniter would accept.
_NAMES = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"} | {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"
}  # fmt: skip
_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
_FIELDS = ("second", "minute", "hour", "day of month", "month", "day of week")


class KfpError(ValueError):
    """A KFP host, experiment, schedule or cron problem; printed as `error: ...` by the CLI."""


# --------------------------------------------------------------------------------------------------
# Cron


def to_kfp_cron(expression: str) -> str:
    """Validate a cron expression and return KFP's six-field, seconds-first form.

    Args:
        expression: Five fields (`minute hour day month weekday`, as in crontab), six fields with
            seconds first (KFP's own form), or a descriptor such as `@daily`.

    Returns:
        The six-field expression KFP's scheduler takes (`0 30 2 * * 1` for `30 2 * * 1`).

    Raises:
        KfpError: The expression has the wrong number of fields or a field KFP cannot parse.
    """
    from croniter import CroniterError, croniter

    text = " ".join(expression.split())
    if text.lower() in _DESCRIPTORS:
        return _DESCRIPTORS[text.lower()]
    fields = text.split(" ")
    if len(fields) == 5:
        fields = ["0", *fields]  # crontab form: fire at second 0
    elif len(fields) != 6:
        raise KfpError(
            f"cron {expression!r} has {len(fields)} fields; give five (minute hour day month weekday, "
            f'e.g. "0 3 * * 1") or six with seconds first (e.g. "0 0 3 * * 1")'
        )
    for name, value in zip(_FIELDS, fields, strict=True):
        words = set(re.findall(r"[A-Za-z]+", value))
        bad_words = {w for w in words if w.upper() not in _NAMES or name not in ("month", "day of week")}
        if not re.fullmatch(r"[0-9A-Za-z*?,/-]+", value) or bad_words:
            raise KfpError(
                f"cron {expression!r}: the {name} field {value!r} is not something KFP's scheduler "
                f"understands (numbers, *, ?, ranges a-b, lists a,b, steps */n; month and weekday names)"
            )
    kfp_cron = " ".join(fields)
    try:
        croniter.expand(kfp_cron, second_at_beginning=True)
    except CroniterError as err:
        raise KfpError(f"cron {expression!r} is not valid ({err}; as six fields: {kfp_cron!r})") from None
    try:
        next_fire_times(kfp_cron, count=1)
    except CroniterError:
        raise KfpError(f"cron {expression!r} never fires (no such date); check the day and month") from None
    return kfp_cron


def next_fire_times(kfp_cron: str, count: int = 3, start: dt.datetime | None = None) -> list[dt.datetime]:
    """The next `count` times (UTC) a six-field KFP cron expression fires after `start` (default now)."""
    from croniter import croniter

    start = start or dt.datetime.now(dt.UTC)
    times = croniter(kfp_cron, start, second_at_beginning=True)
    return [times.get_next(dt.datetime) for _ in range(count)]


# --------------------------------------------------------------------------------------------------
# Connecting


def read_token(token_file: str | None = None) -> str | None:
    """The bearer token: $SLIMNLP_KFP_TOKEN, the token file, or the pod's KFP service-account token.

    Raises:
        KfpError: A token file was named but cannot be read or is empty.
    """
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    named = token_file or os.environ.get(TOKEN_FILE_ENV)
    path = Path(named) if named else SA_TOKEN_PATH
    if not named and not path.is_file():
        return None  # no auth: a port-forwarded or single-user KFP
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise KfpError(f"cannot read the KFP token file {path}: {err.strerror}") from None
    if not token:
        raise KfpError(f"the KFP token file {path} is empty")
    return token


def _check_host(host: str) -> str:
    if not re.match(r"^https?://[^/\s]+", host or ""):
        raise KfpError(
            f"--host {host!r} is not a URL; give the KFP API endpoint, e.g. http://localhost:8080 after "
            f"`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80` (or set ${HOST_ENV})"
        )
    return host.rstrip("/")


def check_health(host: str, token: str | None, timeout_s: float = 10) -> dict[str, Any]:
    """GET the KFP health endpoint once; a clear error when the host does not answer as KFP.

    Raises:
        KfpError: Connection refused, timeout, an auth failure or an answer that is not KFP's.
    """
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = host + HEALTHZ
    try:
        response = requests.get(url, headers=headers, timeout=timeout_s)
    except requests.RequestException as err:
        raise KfpError(
            f"KFP host {host} does not answer ({type(err).__name__}); check --host and that the API is "
            f"reachable (e.g. `kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`)"
        ) from None
    if response.status_code in (401, 403):
        raise KfpError(
            f"KFP host {host} refused the credentials (HTTP {response.status_code}); set ${TOKEN_ENV} "
            f"or --token-file to a valid token"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        raise KfpError(
            f"{url} answered HTTP {response.status_code} without KFP's health JSON; is {host} the KFP "
            f"API (ml-pipeline-ui or ml-pipeline service)?"
        )
    return body


def connect(
    host: str, token_file: str | None = None, namespace: str | None = None, timeout_s: float = 10
) -> kfp.Client:
    """A `kfp.Client` for `host`, after checking that the host answers as KFP.

    Args:
        host: The KFP API endpoint, e.g. `http://localhost:8080`.
        token_file: File holding a bearer token (see `read_token`).
        namespace: Kubernetes namespace of a multi-user KFP profile; None = single-user.
        timeout_s: Seconds to wait for the health check.

    Returns:
        The connected client.
    """
    host = _check_host(host)
    token = read_token(token_file)
    check_health(host, token, timeout_s)
    import kfp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2.0.0-beta.2 and later"
        return kfp.Client(host=host, existing_token=token, namespace=namespace or "kubeflow")


@contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Turn a KFP API error into a `KfpError` that says what failed (headers and token left out)."""
    import kfp_server_api

    try:
        yield
    except kfp_server_api.ApiException as err:
        body = (err.body.decode() if isinstance(err.body, bytes) else str(err.body or "")).strip()
        raise KfpError(f"{what} failed: HTTP {err.status} {err.reason}: {body[:300]}") from None


def experiment_id(client: kfp.Client, name: str, namespace: str | None = None, create: bool = False) -> str:
    """The id of the experiment called `name`; created only when `create` is true.

    Raises:
        KfpError: The experiment does not exist and `create` is false.
    """
    with api_errors(f"looking up experiment {name!r}"):
        try:
            return client.get_experiment(experiment_name=name, namespace=namespace).experiment_id
        except ValueError as err:
            if not str(err).startswith("No experiment is found"):
                raise KfpError(f"experiment {name!r}: {err}") from None
        if create:
            return client.create_experiment(name=name, namespace=namespace).experiment_id
        listed = client.list_experiments(page_size=20, namespace=namespace).experiments or []
    known = ", ".join(sorted(e.display_name for e in listed)) or "none"
    raise KfpError(
        f"experiment {name!r} does not exist on this KFP (existing: {known}); pass one of those to "
        f"--experiment, or add --create-experiment to create it"
    )


# --------------------------------------------------------------------------------------------------
# Submit and schedule


@dataclass(frozen=True)
class Target:
    """Where and how to submit: the server, the experiment and the run parameters."""

    host: str
    experiment: str = "Default"
    create_experiment: bool = False
    namespace: str | None = None
    token_file: str | None = None
    tracking_uri: str = ""


# --------------------------------------------------------------------------------------------------
# Managing schedules


def list_schedules(
    client: kfp.Client, experiment: str | None = None, namespace: str | None = None
) -> list[dict]:
    """Recurring runs as rows: id, name, status, cron, experiment id, created."""
    exp_id = experiment_id(client, experiment, namespace) if experiment else None
    rows, token = [], ""
    with api_errors("listing recurring runs"):
        while True:
            page = client.list_recurring_runs(
                page_token=token, page_size=100, experiment_id=exp_id, namespace=namespace
            )
            for run in page.recurring_runs or []:
                cron = run.trigger.cron_schedule.cron if run.trigger and run.trigger.cron_schedule else "-"
                rows.append(
                    {
                        "id": run.recurring_run_id,
                        "name": run.display_name,
                        "status": run.status or run.mode or "-",
                        "cron": cron,
                        "experiment": run.experiment_id,
                        "created": str(run.created_at or "-"),
                    }
                )
            token = page.next_page_token
            if not token:
                return rows


def change_schedule(client: kfp.Client, recurring_run_id: str, action: str) -> None:
    """Pause, resume or delete one recurring run, after checking that it exists.

    Raises:
        KfpError: No recurring run has that id, or the action is unknown.
    """
    import kfp_server_api

    calls = {
        "pause": client.disable_recurring_run,
        "resume": client.enable_recurring_run,
        "delete": client.delete_recurring_run,
    }
    if action not in calls:
        raise KfpError(f"unknown schedule action {action!r}; use one of {sorted(calls)}")
    with api_errors(f"looking up recurring run {recurring_run_id}"):
        try:
            client.get_recurring_run(recurring_run_id)
        except kfp_server_api.ApiException as err:
            if err.status != 404:
                raise
            raise KfpError(
                f"no recurring run with id {recurring_run_id!r}; `slimnlp schedules list --host ...` "
                f"shows the ids"
            ) from None
    with api_errors(f"{action} of recurring run {recurring_run_id}"):
        calls[action](recurring_run_id)
