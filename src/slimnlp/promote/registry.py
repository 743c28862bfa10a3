"""The MLflow model registry for people and for the promote step: connect, look up, move aliases.

    slimnlp registry list
    slimnlp registry promote slimnlp-marathi-sample 3
    slimnlp registry rollback slimnlp-marathi-sample

Aliases only (stages are deprecated in MLflow 3): `challenger` (the newest registered version),
`champion` (what serves), `previous` (the champion before, for `rollback`). The gate that decides
whether a new version becomes champion is in `slimnlp.promote.promotion`. Every error for people is a
RegistryError that names the server, the model or the version, and what exists instead.
"""

from __future__ import annotations

import difflib
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
MODEL_ARTIFACT = "model"  # where the pyfunc lives inside the promote step's MLflow run
TAG = "slimnlp."  # prefix of every version tag we write


class RegistryError(ValueError):
    """A registry operation cannot be done; the message names the model, version or server."""


def model_name(cfg: RunConfig) -> str:
    """The registered model name of a run config (registry.model_name, default slimnlp-<run name>)."""
    return cfg.registry.model_name or f"slimnlp-{cfg.name}"


# --------------------------------------------------------------------------------------------------
# Connecting


def connect(tracking_uri: str) -> Any:
    """An MlflowClient for `tracking_uri`, after checking that a tracking server answers.

    MLflow's own client retries a dead server for minutes; a quick /health probe fails in seconds
    with a message that says what to do.
    """
    import mlflow

    if tracking_uri.startswith(("http://", "https://")):
        url = tracking_uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http(s) only
                response.read()
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise RegistryError(
                f"the MLflow tracking server at {tracking_uri} is not reachable ({reason}); start one with "
                "`slimnlp mlflow-server` or fix tracking.tracking_uri / MLFLOW_TRACKING_URI. "
                "Nothing was registered and no alias moved."
            ) from err
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def get_model(client: Any, name: str) -> Any:
    """The registered model `name`; a typo gets the close names that do exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as err:
        if "RESOURCE_DOES_NOT_EXIST" not in str(err.error_code):
            raise
    known = [m.name for m in client.search_registered_models(max_results=1000)]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = f" Registered models: {', '.join(sorted(known))}." if known else " The registry is empty."
    raise RegistryError(f"no registered model {name!r} at {client.tracking_uri}{hint}{listing}")


def get_version(client: Any, name: str, version: str | int) -> Any:
    """One version of a registered model; a wrong number lists the versions that exist."""
    from mlflow.exceptions import MlflowException

    get_model(client, name)
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as err:
        if "RESOURCE_DOES_NOT_EXIST" not in str(err.error_code) and "INVALID_PARAMETER" not in str(
            err.error_code
        ):
            raise
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    raise RegistryError(
        f"{name} has no version {version!r}; its versions are {', '.join(map(str, versions)) or 'none'}"
    )


def alias_version(client: Any, name: str, alias: str) -> str | None:
    """The version an alias points at, or None."""
    aliases = get_model(client, name).aliases or {}
    return str(aliases[alias]) if alias in aliases else None


# --------------------------------------------------------------------------------------------------
# People's operations: list, promote, rollback


def list_models(client: Any, name: str | None = None) -> list[dict[str, Any]]:
    """One row per version (newest first), of one model or of all: aliases and headline tags."""
    models = [get_model(client, name)] if name else client.search_registered_models(max_results=1000)
    models = [m for m in models if not m.name.endswith(LOCK_SUFFIX)]  # a promotion in progress
    rows = []
    for model in sorted(models, key=lambda m: m.name):
        by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        for mv in sorted(
            client.search_model_versions(f"name = '{model.name}'"), key=lambda v: -int(v.version)
        ):
            tags = mv.tags or {}
            rows.append(
                {
                    "name": model.name,
                    "version": int(mv.version),
                    "aliases": ",".join(sorted(by_version.get(str(mv.version), []))),
                    "accuracy": tags.get(TAG + "test_accuracy"),
                    "latency_ms": tags.get(TAG + "latency_ms"),
                    "size_bytes": tags.get(TAG + "size_bytes"),
                    "decision": tags.get(TAG + "decision", ""),
                    "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime(mv.creation_timestamp / 1000)),
                }
            )
    return rows


def make_champion(client: Any, name: str, version: str | int) -> dict[str, str | None]:
    """Point `champion` at `version`; the version it leaves gets `previous`. Returns what moved."""
    target = get_version(client, name, version).version
    old = alias_version(client, name, CHAMPION)
    if old == str(target):
        return {"champion": str(target), "previous": alias_version(client, name, PREVIOUS), "changed": None}
    # `previous` first: if the second call fails, the champion has not moved.
    if old is not None:
        client.set_registered_model_alias(name, PREVIOUS, old)
    client.set_registered_model_alias(name, CHAMPION, str(target))
    return {"champion": str(target), "previous": old, "changed": "yes"}


def rollback(client: Any, name: str) -> dict[str, str | None]:
    """Swap `champion` and `previous` (a second rollback undoes the first)."""
    previous = alias_version(client, name, PREVIOUS)
    if previous is None:
        raise RegistryError(f"{name} has no {PREVIOUS!r} alias: there is nothing to roll back to")
    champion = alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, previous)
    if champion is not None:
        client.set_registered_model_alias(name, PREVIOUS, champion)
    return {"champion": previous, "previous": champion}


# --------------------------------------------------------------------------------------------------
# One promotion at a time per model

LOCK_SUFFIX = ".promotion-lock"


@contextmanager
def promotion_lock(client: Any, name: str, holder: str, wait_s: float = 600, stale_s: float = 900):
    """Hold the promotion of `name` against other runs: reading the champion, deciding, registering
    and moving the aliases happen inside, so two runs promoting at once are decided one after the
    other, the second against the champion the first left.

    The lock is a registered model named `<name>.promotion-lock`: creating it is atomic on every
    MLflow backend (a unique name), so exactly one run gets it; the others wait and retry. A lock
    older than `stale_s` (a run killed while holding it) is taken over, with a message."""
    from mlflow.exceptions import MlflowException

    lock = name + LOCK_SUFFIX
    deadline, waited = time.monotonic() + wait_s, False
    while True:
        try:
            client.create_registered_model(lock, tags={"holder": holder}, description=f"held by {holder}")
            break
        except MlflowException as err:
            # ALREADY_EXISTS: held. DOES_NOT_EXIST: MLflow's SQL store, on the unique-name clash, reads the
            # holder back to word its error, and the holder released it in between: free, try again.
            if not any(code in str(err.error_code) for code in ("ALREADY_EXISTS", "DOES_NOT_EXIST")):
                raise
        other = _lock_holder(client, lock)
        if time.monotonic() > deadline:
            raise RegistryError(
                f"another run ({other[0] if other else 'unknown'}) holds the promotion lock of {name!r} "
                f"for over {wait_s:.0f} s; nothing was registered. If no run is promoting, delete the "
                f"registered model {lock!r}"
            )
        if other is None:
            time.sleep(0.1)  # released between our try and the look: try again
            continue
        if time.time() - other[1] > stale_s:
            print(f"promote: taking over a stale promotion lock of {other[0]} on {name}", flush=True)
            _drop_lock(client, lock)
            continue
        if not waited:  # said once, with the holder's name
            print(f"promote: waiting for {other[0]} to finish promoting {name}", flush=True)
            waited = True
        time.sleep(0.5)
    try:
        yield
    finally:
        _drop_lock(client, lock)


def _lock_holder(client: Any, lock: str) -> tuple[str, float] | None:
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(lock)
    except MlflowException:
        return None  # released meanwhile
    return (model.tags or {}).get("holder", "?"), model.creation_timestamp / 1000


def _drop_lock(client: Any, lock: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.delete_registered_model(lock)
    except MlflowException as err:
        if "RESOURCE_DOES_NOT_EXIST" not in str(err.error_code):
            raise


# --------------------------------------------------------------------------------------------------
# Registering a packaged model


def register(
    client: Any, name: str, run_id: str, model_dir: Path, tags: dict[str, Any], wait_s: float = 120
) -> str:
    """Log the packaged pyfunc `model_dir` as an MLflow 3 LoggedModel of the run and register it;
    returns the version.

    The upload comes first: if the artifact store refuses it (credentials, a missing bucket, a
    server gone), nothing is registered.
    """
    from slimnlp.mlops.storage import describe_error

    logged = client.create_logged_model(
        client.get_run(run_id).info.experiment_id,
        name=MODEL_ARTIFACT,
        source_run_id=run_id,
        model_type="onnx-text-classifier",
    )
    try:
        log_packaged_model(client, run_id, model_dir, logged.model_id)
    except Exception as err:  # noqa: BLE001 - botocore, requests and MLflow all raise their own
        _forget_s3_clients()
        raise RegistryError(
            describe_error(err, f"uploading the model to {logged.artifact_location}")
            + f"; nothing was registered under {name!r} and no alias moved"
        ) from err
    model_id = logged.model_id
    _ensure_registered_model(client, name)
    version = client.create_model_version(
        name,
        f"models:/{model_id}",
        run_id=run_id,
        tags={k: str(v) for k, v in tags.items()},
        model_id=model_id,
    )
    deadline = time.monotonic() + wait_s
    while version.status == "PENDING_REGISTRATION" and time.monotonic() < deadline:
        time.sleep(0.5)
        version = client.get_model_version(name, version.version)
    if version.status != "READY":
        raise RegistryError(
            f"{name} version {version.version} is {version.status}, not READY; aliases untouched"
        )
    return str(version.version)


def log_packaged_model(client: Any, run_id: str, model_dir: Path, model_id: str) -> None:
    """`mlflow.pyfunc.log_model(name=...)` of the pyfunc saved (and scored) in `model_dir` into the
    LoggedModel `model_id` of run `run_id`: the same model code, artifacts, signature, input example
    and metadata (`models:/<model_id>` loads it). A failed upload leaves that LoggedModel FAILED."""
    import mlflow
    from mlflow.entities import LoggedModelOutput
    from mlflow.models import Model

    from slimnlp.promote import serving

    saved = Model.load(str(model_dir))
    # log_model reads the tracking server from MLflow's global state: point it at this client's.
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT,
            model_id=model_id,
            python_model=serving.__file__,
            artifacts={"onnx_dir": str(Path(model_dir, "artifacts", "onnx"))},
            signature=saved.signature,
            input_example=saved.load_input_example(str(model_dir)),
            metadata=saved.metadata,
            pip_requirements=str(Path(model_dir, "requirements.txt")),
        )
    finally:
        mlflow.set_tracking_uri(previous)
    client.log_outputs(run_id, [LoggedModelOutput(model_id, step=0)])


def _ensure_registered_model(client: Any, name: str) -> None:
    """Create the registered model unless it exists (another run may create it at the same moment)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
        return
    except MlflowException:
        pass  # not there yet
    try:
        client.create_registered_model(name, description="slimnlp compressed text classifier (ONNX pyfunc)")
        print(f"promote: created registered model {name!r}", flush=True)
    except MlflowException as err:
        if "RESOURCE_ALREADY_EXISTS" not in str(err.error_code):
            raise


def _forget_s3_clients() -> None:
    """MLflow caches its S3 client, and boto3's default session the credentials, of first use (from
    the environment); drop both so that a retry in this process, after AWS_* is fixed, reads them anew."""
    try:
        import boto3
        from mlflow.store.artifact.s3_artifact_repo import _cached_get_s3_client

        _cached_get_s3_client.cache_clear()
        boto3.DEFAULT_SESSION = None
    except (ImportError, AttributeError):
        pass
