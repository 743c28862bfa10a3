"""The S3 server killed (SIGKILL) in the middle of an upload (slimnlp.mlops.storage.upload).

What must hold: no partial object is ever visible at the key; an upload retried after the server
is back succeeds, byte for byte; a server back within the retry window is ridden out by the same
call. Real SeaweedFS, killed and started again on the same port and data folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path

import pytest

from slimnlp.mlops import storage
from slimnlp.mlops.storage import StorageError, fetch, upload

SIZE = 48 * 2**20  # multipart (boto3 splits above 8 MB): several requests in flight when killed
KILL_AFTER = 12 * 2**20


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture
def s3(restartable_s3, monkeypatch):
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in restartable_s3.env().items():
        monkeypatch.setenv(name, value)
    restartable_s3.create_bucket("models")
    return restartable_s3


def kill_mid_upload(monkeypatch, server, restart: bool) -> threading.Event:
    """Kill the server once KILL_AFTER bytes of the upload have been sent; optionally start it again."""
    killed = threading.Event()
    sent = [0]

    class Bar:
        def update(self, count: int) -> None:
            sent[0] += count
            if sent[0] >= KILL_AFTER and not killed.is_set():
                killed.set()
                server.handle.kill()
                if restart:
                    threading.Thread(target=server.handle.start, daemon=True).start()

    monkeypatch.setattr(storage, "_bar", lambda *args: contextlib.nullcontext(Bar()))
    return killed


def keys(server, bucket: str = "models") -> list[str]:
    return [o["Key"] for o in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_killed_mid_upload_leaves_no_object_and_a_retry_after_restart_succeeds(
    s3, big_file, monkeypatch, tmp_path
):
    monkeypatch.setattr(storage, "RETRIES", 2)
    killed = kill_mid_upload(monkeypatch, s3, restart=False)
    with pytest.raises(StorageError) as err:
        upload(big_file, "s3://models/run-1/teacher/model.safetensors")
    assert killed.is_set()
    assert "s3://models/run-1/teacher/model.safetensors" in str(err.value) and "after 2 attempts" in str(
        err.value
    )
    s3.handle.start()
    assert keys(s3) == [], "nothing, not even a temporary key, is visible after the failed upload"
    monkeypatch.undo()
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    assert upload(big_file, "s3://models/run-1/teacher/model.safetensors").endswith("model.safetensors")
    assert keys(s3) == ["run-1/teacher/model.safetensors"]
    got = fetch("s3://models/run-1/teacher/model.safetensors", tmp_path / "dl")
    assert hashlib.sha256(got.read_bytes()).hexdigest() == hashlib.sha256(big_file.read_bytes()).hexdigest()


@pytest.mark.slow
def test_server_back_within_the_retry_window_is_ridden_out(s3, big_file, monkeypatch):
    monkeypatch.setattr(storage, "RETRIES", 7)  # waits 0.5 + 1 + ... + 16 s = 31.5 s in all
    killed = kill_mid_upload(monkeypatch, s3, restart=True)
    assert upload(big_file, "s3://models/m.bin") == "s3://models/m.bin"
    assert killed.is_set()
    assert keys(s3) == ["m.bin"]
    head = s3.client().head_object(Bucket="models", Key="m.bin")
    assert head["ContentLength"] == SIZE
    assert head["Metadata"]["sha256"] == hashlib.sha256(big_file.read_bytes()).hexdigest()


@pytest.mark.slow
def test_an_earlier_failed_upload_does_not_replace_the_good_object(s3, big_file, monkeypatch, tmp_path):
    good = tmp_path / "good.bin"
    good.write_bytes(b"the champion's weights")
    upload(good, "s3://models/champion.bin")
    monkeypatch.setattr(storage, "RETRIES", 1)
    kill_mid_upload(monkeypatch, s3, restart=False)
    with pytest.raises(StorageError):
        upload(big_file, "s3://models/champion.bin")
    s3.handle.start()
    assert keys(s3) == ["champion.bin"]
    assert (
        s3.client().get_object(Bucket="models", Key="champion.bin")["Body"].read()
        == b"the champion's weights"
    )
