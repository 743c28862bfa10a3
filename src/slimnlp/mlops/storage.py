"""Fetch and upload files: local paths, `s3://` (boto3) and `http(s)://` URLs.

    path = fetch("s3://datasets/mahanews/SHC_Test.csv", Path("/tmp/dl"))   # -> /tmp/dl/SHC_Test.csv
    model_dir = fetch("s3://models/teacher/", Path("/tmp/dl"))              # a prefix -> a directory
    upload(Path("runs/x/teacher"), "s3://models/teacher/")

S3 settings come from the environment, as for the AWS CLI: `AWS_ENDPOINT_URL_S3` or
`AWS_ENDPOINT_URL` (SeaweedFS, MinIO, ...) unless `endpoint_url` is passed, and credentials from
the usual boto chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, pod roles). Credentials
are never logged or put into error messages. Transient failures (connection errors, 5xx, a short
download) are retried with exponential backoff; an error the caller must fix (403, 404) is not.

Integrity: an upload records the file's SHA-256 in the object's metadata (`x-amz-meta-sha256`) and
goes to a temporary key that is copied into place only when it is whole, so a failed upload never
replaces a good object, and an upload cut off halfway (the server killed) leaves no object at the
key: S3 makes an object, or a multipart upload, visible only once it is complete. Temporary keys a
failed upload leaves behind are removed by the next successful upload of the same key. A download is checked against the size and, when the object carries one,
that SHA-256; a mismatch is retried and then reported.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

T = TypeVar("T")

# Attempts per transfer (waits 0.5 s, 1 s, 2 s, ... between them); SLIMNLP_S3_RETRIES raises it to
# ride out a longer outage (6 attempts wait 15.5 s in all, 8 wait 63.5 s).
RETRIES = int(os.environ.get("SLIMNLP_S3_RETRIES", "4"))
BACKOFF_S = 0.5
_FATAL_S3_CODES = {
    "403",
    "404",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "NoSuchKey",
    "InvalidBucketName",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
}


class StorageError(OSError):
    """A fetch or upload failed; the message names the bucket and key or the URL."""


def fetch(uri: str, dest_dir: Path, *, endpoint_url: str | None = None, progress: bool = False) -> Path:
    """Return a local path for `uri`, downloading it into `dest_dir` when it is remote.

    Args:
        uri: a local path (or `file://` URL), `s3://bucket/key`, `s3://bucket/prefix/` (ends in `/`:
            the whole prefix is downloaded as a directory) or an `http(s)://` URL.
        dest_dir: where downloads go (created if needed). Local paths are returned as they are.
        endpoint_url: S3 endpoint; default from `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
        progress: show a tqdm progress bar for downloads.
    """
    scheme = urlparse(uri).scheme.lower()
    if scheme == "s3":
        bucket, key = split_s3_uri(uri)
        client = s3_client(endpoint_url)
        if key == "" or key.endswith("/"):
            return _download_prefix(client, bucket, key, Path(dest_dir), progress)
        return _download_object(client, bucket, key, Path(dest_dir) / Path(key).name, progress)
    if scheme in ("http", "https"):
        return _download_http(uri, Path(dest_dir), progress)
    path = Path(unquote(urlparse(uri).path)) if scheme == "file" else Path(uri).expanduser()
    if scheme not in ("", "file") and len(scheme) > 1:  # one letter = a Windows drive
        raise StorageError(f"{uri}: unsupported scheme {scheme!r}; use a local path, s3:// or http(s)://")
    if not path.exists():
        raise StorageError(f"{path} does not exist; check the path (relative paths start at {Path.cwd()})")
    return path


def upload(path: str | Path, s3_uri: str, *, endpoint_url: str | None = None, progress: bool = False) -> str:
    """Upload a file, or a directory (as a prefix), to S3 and return the URI written.

    Each file goes to a temporary key first and is then copied into place, so a failed upload
    never replaces a good object with a partial one; size and SHA-256 are checked after both steps.

    Args:
        path: A file, or a directory (uploaded file by file under the prefix).
        s3_uri: `s3://bucket/key`, or `s3://bucket/prefix/` (a file keeps its name under it).
        endpoint_url: S3 endpoint; default from `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
        progress: show a tqdm progress bar per file.
    """
    path = Path(path)
    if not path.exists():
        raise StorageError(f"{path} does not exist; nothing to upload to {s3_uri}")
    bucket, key = split_s3_uri(s3_uri)
    client = s3_client(endpoint_url)
    if path.is_file():
        key = key + path.name if key == "" or key.endswith("/") else key
        _upload_file(client, path, bucket, key, progress)
        return f"s3://{bucket}/{key}"
    prefix = key if key == "" or key.endswith("/") else key + "/"
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        _upload_file(client, file, bucket, prefix + file.relative_to(path).as_posix(), progress)
    return f"s3://{bucket}/{prefix}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key")."""
    parsed = urlparse(uri)
    if parsed.scheme.lower() != "s3" or not parsed.netloc:
        raise StorageError(f"{uri!r} is not an S3 URI; expected s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def s3_client(endpoint_url: str | None = None, timeout_s: float | None = None) -> Any:
    """A boto3 S3 client for the configured endpoint (path-style addressing for custom endpoints);
    `timeout_s` shortens the connect and read timeouts (preflight checks)."""
    import boto3
    from botocore.config import Config

    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},  # we retry whole transfers ourselves
        connect_timeout=timeout_s or 10,
        read_timeout=timeout_s or 60,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


# --------------------------------------------------------------------------------------------------
# Retries and error messages


def _with_retries(
    action: Callable[[], T], what: str, is_fatal: Callable[[Exception], bool], endpoint: str = ""
) -> T:
    """Run `action`, retrying transient failures with exponential backoff; `what` names the object."""
    for attempt in range(1, RETRIES + 1):
        try:
            return action()
        except StorageError:
            raise
        except Exception as err:  # noqa: BLE001 - classified just below
            fatal = is_fatal(err)
            if fatal or attempt == RETRIES:
                tried = "" if fatal else f" (after {RETRIES} attempts)"
                raise StorageError(_describe(err, what, endpoint) + tried) from err
            time.sleep(BACKOFF_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _s3_code(err: BaseException | None) -> str | None:
    """The S3 error code of a botocore ClientError, also when boto3 wrapped it in another error."""
    while err is not None:
        response = getattr(err, "response", None)
        if isinstance(response, dict) and "Error" in response:
            return str(response["Error"].get("Code"))
        err = err.__cause__ or err.__context__
    return None


def _s3_fatal(err: Exception) -> bool:
    from botocore.exceptions import NoCredentialsError, PartialCredentialsError

    return _s3_code(err) in _FATAL_S3_CODES or isinstance(err, NoCredentialsError | PartialCredentialsError)


def describe_error(err: BaseException, what: str) -> str:
    """A message for people about a failed transfer by any library (boto3, MLflow's S3 store, ...).

    Args:
        err: The exception.
        what: What was being done, naming the object (`uploading x to s3://bucket/key`).
    """
    endpoint = ""
    while err is not None and _s3_code(err) is None and err.__cause__ is not None:
        err = err.__cause__
    return _describe(err, what, endpoint)


def _describe(err: BaseException, what: str, endpoint: str) -> str:
    """A message for people: what failed, why, and what to do (never the credentials)."""
    code = _s3_code(err)
    at = f" at {endpoint}" if endpoint else ""
    if code in (
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AllAccessDisabled",
    ):
        return (
            f"{what}: access denied ({code}){at}; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
            "(or the profile or role in use) and the bucket's permissions"
        )
    if code == "NoSuchBucket":
        return f"{what}: the bucket does not exist{at}; create it or fix the bucket name"
    if code in ("404", "NoSuchKey"):
        return f"{what}: no such object{at}; check the key (keys are case-sensitive)"
    if type(err).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return f"{what}: no S3 credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(err, _HTTPStatus):
        return f"{what}: the server answered {err}; check the URL"
    return f"{what}: {type(err).__name__}: {err}"


# --------------------------------------------------------------------------------------------------
# S3


def _endpoint(client: Any) -> str:
    return client.meta.endpoint_url


def _object_size(client: Any, bucket: str, key: str) -> tuple[int, str | None]:
    """Size and recorded SHA-256 (None if not recorded) of an object; when it is missing, say whether
    the bucket or the key is."""
    what, endpoint = f"s3://{bucket}/{key}", _endpoint(client)

    def head() -> tuple[int, str | None]:
        response = client.head_object(Bucket=bucket, Key=key)
        return response["ContentLength"], (response.get("Metadata") or {}).get("sha256")

    try:
        return _with_retries(head, what, _s3_fatal, endpoint)
    except StorageError as err:
        if _s3_code(err) not in ("404", "NoSuchKey"):
            raise
        try:
            client.head_bucket(Bucket=bucket)
        except Exception as bucket_err:  # noqa: BLE001 - only a 404 changes the message
            if _s3_code(bucket_err) in ("404", "NoSuchBucket"):
                raise StorageError(
                    f"{what}: bucket {bucket!r} does not exist at {endpoint}; "
                    "create it or fix the bucket name"
                ) from bucket_err
        raise


def _download_object(client: Any, bucket: str, key: str, dest: Path, progress: bool) -> Path:
    """Download one object to `dest` through a temporary file, checking its size and SHA-256."""
    size, sha256 = _object_size(client, bucket, key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")

    def attempt() -> None:
        with _bar(size, f"s3://{bucket}/{key}", progress) as bar:
            client.download_file(bucket, key, str(tmp), Callback=bar.update)
        if tmp.stat().st_size != size:
            raise OSError(f"downloaded {tmp.stat().st_size} bytes, expected {size}")
        if sha256 and file_sha256(tmp) != sha256:
            raise OSError(f"downloaded bytes do not match the object's recorded SHA-256 {sha256[:12]}...")

    try:
        _with_retries(attempt, f"s3://{bucket}/{key}", _s3_fatal, _endpoint(client))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _download_prefix(client: Any, bucket: str, prefix: str, dest_dir: Path, progress: bool) -> Path:
    """Download every object under `prefix` into dest_dir/<last prefix part>/, keeping the layout."""
    what, endpoint = f"s3://{bucket}/{prefix}", _endpoint(client)

    def list_keys() -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [
            obj["Key"] for page in pages for obj in page.get("Contents", []) if not obj["Key"].endswith("/")
        ]

    keys = _with_retries(list_keys, what, _s3_fatal, endpoint)
    if not keys:
        raise StorageError(f"{what}: no objects under this prefix at {endpoint}; check the URI")
    target = dest_dir / (Path(prefix.rstrip("/")).name or bucket)
    for key in keys:
        _download_object(client, bucket, key, target / key[len(prefix) :], progress)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _upload_file(client: Any, path: Path, bucket: str, key: str, progress: bool = False) -> None:
    """Upload to a temporary key, check it, copy it into place, check again, clean up."""
    size, sha256 = path.stat().st_size, file_sha256(path)
    tmp_key = f"{key}.uploading-{uuid.uuid4().hex[:8]}"
    what, endpoint = f"uploading {path} to s3://{bucket}/{key}", _endpoint(client)

    def check(object_key: str) -> None:
        head = client.head_object(Bucket=bucket, Key=object_key)
        if head["ContentLength"] != size or (head.get("Metadata") or {}).get("sha256") != sha256:
            raise OSError(
                f"s3://{bucket}/{object_key} is not the {size} bytes just sent (size or SHA-256 differ)"
            )

    def put() -> None:
        with _bar(size, f"s3://{bucket}/{key}", progress) as bar:
            client.upload_file(
                str(path), bucket, tmp_key, ExtraArgs={"Metadata": {"sha256": sha256}}, Callback=bar.update
            )
        check(tmp_key)

    def copy() -> None:
        client.copy({"Bucket": bucket, "Key": tmp_key}, bucket, key)  # metadata is copied along
        check(key)

    try:
        _with_retries(put, what, _s3_fatal, endpoint)
        _with_retries(copy, what, _s3_fatal, endpoint)
    finally:
        try:
            client.delete_object(Bucket=bucket, Key=tmp_key)
        except Exception:  # noqa: BLE001 - best effort: the real error (if any) is already raised
            pass
    _remove_stale_temporaries(client, bucket, key)


def _remove_stale_temporaries(client: Any, bucket: str, key: str) -> None:
    """Temporary keys an earlier upload of `key` could not delete (the server went away between
    its copy and its clean-up): removed once `key` is whole."""
    try:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{key}.uploading-")
        for item in listed.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    except Exception:  # noqa: BLE001 - best effort
        pass


# --------------------------------------------------------------------------------------------------
# HTTP


def _download_http(url: str, dest_dir: Path, progress: bool) -> Path:
    """Stream a URL to dest_dir/<last path part>, retrying connection errors and 5xx answers."""
    import requests

    name = Path(unquote(urlparse(url).path)).name or "download"
    dest = dest_dir / name
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{name}.{uuid.uuid4().hex[:8]}.part")

    def attempt() -> None:
        with requests.get(url, stream=True, timeout=(10, 60)) as response:
            if response.status_code >= 400:
                raise _HTTPStatus(response.status_code, response.reason)
            expected = response.headers.get("Content-Length")
            with open(tmp, "wb") as out, _bar(int(expected or 0), url, progress) as bar:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        if expected is not None and tmp.stat().st_size != int(expected):
            raise OSError(f"downloaded {tmp.stat().st_size} bytes, expected {expected}")

    try:
        _with_retries(attempt, url, lambda err: isinstance(err, _HTTPStatus) and err.status < 500)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


class _HTTPStatus(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total or None, desc=desc, unit="B", unit_scale=True, disable=not enabled, leave=False)
