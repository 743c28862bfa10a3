"""slimnlp.mlops.storage against a real S3 server (SeaweedFS) and a local HTTP server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slimnlp.mlops import storage
from slimnlp.mlops.storage import StorageError, fetch, upload


def test_local_path_is_returned_as_is(tmp_path: Path) -> None:
    file = tmp_path / "a.csv"
    file.write_text("text,label\n")
    assert fetch(str(file), tmp_path / "dl") == file
    assert fetch(file.as_uri(), tmp_path / "dl") == file


def test_missing_local_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="nope.csv does not exist"):
        fetch(str(tmp_path / "nope.csv"), tmp_path)


def test_unsupported_scheme(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unsupported scheme 'gs'"):
        fetch("gs://bucket/key.csv", tmp_path)


# --------------------------------------------------------------------------------------------------
# S3


def test_upload_and_fetch_a_file(s3_env, tmp_path: Path) -> None:
    bucket = s3_env.create_bucket("files")
    source = tmp_path / "train.csv"
    source.write_bytes("text,label\nनमस्कार,a\n".encode() * 1000)
    assert upload(source, f"s3://{bucket}/data/") == f"s3://{bucket}/data/train.csv"
    got = fetch(f"s3://{bucket}/data/train.csv", tmp_path / "dl")
    assert got == tmp_path / "dl" / "train.csv"
    assert got.read_bytes() == source.read_bytes()
    keys = [o["Key"] for o in s3_env.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["data/train.csv"], "the temporary upload key must be cleaned up"


def test_upload_and_fetch_a_directory_prefix(s3_env, tmp_path: Path) -> None:
    bucket = s3_env.create_bucket("models")
    model = tmp_path / "teacher"
    (model / "tokenizer").mkdir(parents=True)
    (model / "config.json").write_text('{"hidden_size": 64}')
    (model / "model.safetensors").write_bytes(bytes(range(256)) * 4096)
    (model / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    assert upload(model, f"s3://{bucket}/runs/1/teacher") == f"s3://{bucket}/runs/1/teacher/"
    got = fetch(f"s3://{bucket}/runs/1/teacher/", tmp_path / "dl")
    assert got == tmp_path / "dl" / "teacher"
    for file in ("config.json", "model.safetensors", "tokenizer/vocab.txt"):
        assert (got / file).read_bytes() == (model / file).read_bytes()


def test_upload_replaces_an_object_only_when_complete(s3_env, tmp_path: Path) -> None:
    bucket = s3_env.create_bucket("overwrite")
    (tmp_path / "m.bin").write_bytes(b"old")
    upload(tmp_path / "m.bin", f"s3://{bucket}/m.bin")
    (tmp_path / "m.bin").write_bytes(b"new and longer")
    upload(tmp_path / "m.bin", f"s3://{bucket}/m.bin")
    assert fetch(f"s3://{bucket}/m.bin", tmp_path / "dl").read_bytes() == b"new and longer"


def test_wrong_credentials_name_bucket_and_key_not_the_secret(s3_env, tmp_path, monkeypatch) -> None:
    bucket = s3_env.create_bucket("secured")
    s3_env.client().put_object(Bucket=bucket, Key="x/data.csv", Body=b"text,label\n")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StorageError) as err:
        fetch(f"s3://{bucket}/x/data.csv", tmp_path)
    message = str(err.value)
    assert f"s3://{bucket}/x/data.csv" in message and "access denied" in message
    assert "AWS_SECRET_ACCESS_KEY" in message and "not-the-secret" not in message
    with pytest.raises(StorageError, match=f"uploading .* to s3://{bucket}/y.csv: access denied"):
        upload(_a_file(tmp_path), f"s3://{bucket}/y.csv")


def test_missing_bucket_and_missing_key(s3_env, tmp_path: Path) -> None:
    with pytest.raises(
        StorageError, match="s3://no-such-bucket/a.csv: bucket 'no-such-bucket' does not exist"
    ):
        fetch("s3://no-such-bucket/a.csv", tmp_path)
    with pytest.raises(StorageError, match="s3://no-such-bucket/models/: the bucket does not exist"):
        fetch("s3://no-such-bucket/models/", tmp_path)
    with pytest.raises(StorageError, match="s3://no-such-bucket/a.csv: the bucket does not exist"):
        upload(_a_file(tmp_path), "s3://no-such-bucket/a.csv")
    bucket = s3_env.create_bucket("present")
    with pytest.raises(StorageError, match=f"s3://{bucket}/missing.csv: no such object"):
        fetch(f"s3://{bucket}/missing.csv", tmp_path)
    with pytest.raises(StorageError, match=f"s3://{bucket}/empty/: no objects under this prefix"):
        fetch(f"s3://{bucket}/empty/", tmp_path)


def test_unreachable_endpoint_is_retried_then_named(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(storage, "BACKOFF_S", 0.01)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    with pytest.raises(StorageError, match=r"s3://b/k.csv: .*after 4 attempts"):
        fetch("s3://b/k.csv", tmp_path, endpoint_url="http://127.0.0.1:9")


def _a_file(tmp_path: Path) -> Path:
    file = tmp_path / "a.csv"
    file.write_text("text,label\n")
    return file


# --------------------------------------------------------------------------------------------------
# HTTP


def test_http_download_streams_to_a_file(http_server, tmp_path: Path) -> None:
    root, base_url = http_server
    (root / "sub").mkdir()
    (root / "sub" / "data.tsv").write_text("text\tlabel\nनमस्कार\ta\n", encoding="utf-8")
    got = fetch(f"{base_url}/sub/data.tsv", tmp_path / "dl")
    assert got == tmp_path / "dl" / "data.tsv"
    assert got.read_text(encoding="utf-8") == "text\tlabel\nनमस्कार\ta\n"


def test_http_404_names_the_url_without_retrying(http_server, tmp_path: Path, monkeypatch) -> None:
    _, base_url = http_server
    monkeypatch.setattr(storage, "BACKOFF_S", 10.0)  # a retry would make this test slow
    with pytest.raises(StorageError, match=f"{base_url}/missing.csv: the server answered HTTP 404"):
        fetch(f"{base_url}/missing.csv", tmp_path)


# --------------------------------------------------------------------------------------------------
# The S3 server stops in the middle of an upload


@pytest.fixture
def own_s3_server(s3_server, tmp_path):
    """A second SeaweedFS of this test's own (the session one must stay up): (server, start, stop)."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import S3Server, _free_ports, _wait_until_ready, _weed_command

    weed = shutil.which("weed", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    root = tmp_path / "weed"
    (root / "data").mkdir(parents=True)
    config = root / "s3.json"
    config.write_text((s3_server.data_dir.parent / "s3.json").read_text())
    ports = _free_ports(10)
    server = S3Server(
        f"http://127.0.0.1:{ports[6]}", s3_server.access_key, s3_server.secret_key, root / "data"
    )
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        with open(root / "weed.log", "ab") as log:
            command = _weed_command(weed, server.data_dir, config, ports)
            process = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        _wait_until_ready(server, process, root / "weed.log")
        return process

    try:
        yield server, start
    finally:
        for process in processes:  # a throwaway server: no need to wait for a clean shutdown
            process.kill()
            process.wait()


def test_server_stopping_mid_upload_keeps_the_good_object(own_s3_server, tmp_path, monkeypatch) -> None:
    server, start = own_s3_server
    process = start()
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(storage, "BACKOFF_S", 0.01)
    bucket = server.create_bucket("models")
    model = tmp_path / "model.onnx"
    model.write_bytes(b"the good model")
    upload(model, f"s3://{bucket}/student/model.onnx")

    class StopServerOnFirstBytes:
        """Stands in for the progress bar: the first bytes sent stop the server (SIGKILL)."""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, sent: int) -> None:
            if process.poll() is None:
                process.kill()
                process.wait()

    model.write_bytes(os.urandom(12 * 1024 * 1024))  # multipart: several requests in flight
    with monkeypatch.context() as patch:
        patch.setattr(storage, "_bar", lambda *args, **kwargs: StopServerOnFirstBytes())
        with pytest.raises(
            StorageError, match=rf"uploading {model} to s3://{bucket}/student/model.onnx: .*after 4 attempts"
        ):
            upload(model, f"s3://{bucket}/student/model.onnx")
    start()  # the same data folder and ports: what was written before is still there
    got = fetch(f"s3://{bucket}/student/model.onnx", tmp_path / "dl")
    assert got.read_bytes() == b"the good model"
