"""`slimnlp serve`: MLflow's scoring protocol over HTTP on 127.0.0.1, health and readiness, dynamic
batching, and the README's commands (serve a run dir, then a request) in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slimnlp.serving.model import ServeInputError, load_served
from slimnlp.serving.server import serve
from tests.conftest import _free_ports, _stop, _wait_for_http
from tests.helpers_models import TINY_ID2LABEL, TINY_TEXTS, tiny_onnx_export

LABELS = [TINY_ID2LABEL[i] for i in range(len(TINY_ID2LABEL))]


def post(url: str, body: object, content_type: str = "application/json") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/invocations", data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get(url: str, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as `slimnlp run` leaves it: report/run.json names the export-onnx output."""
    onnx_dir, _ = tiny_onnx_export("student")
    root = tmp_path_factory.mktemp("run") / "tiny"
    (root / "report").mkdir(parents=True)
    steps = {"export-onnx": {"outputs": {"onnx": str(onnx_dir)}}}
    (root / "report" / "run.json").write_text(json.dumps({"steps": steps}))
    return root


@pytest.fixture(scope="module", params=[0.0, 5.0], ids=["direct", "batched"])
def server(run_dir, request):
    server = serve(lambda: load_served(str(run_dir)), port=0, max_wait_ms=request.param)
    server.wait_ready()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


SPLIT = {"dataframe_split": {"columns": ["text"], "data": [[t] for t in TINY_TEXTS[:3]]}}


@pytest.mark.parametrize(
    "body",
    [
        SPLIT,
        {"dataframe_records": [{"text": t} for t in TINY_TEXTS[:3]]},
        {"inputs": {"text": TINY_TEXTS[:3]}},
        {"instances": [{"text": t} for t in TINY_TEXTS[:3]]},
    ],
    ids=["dataframe_split", "dataframe_records", "inputs", "instances"],
)
def test_every_mlflow_json_format_gives_the_same_labels(server, body):
    status, answer = post(server, body)
    _, expected = post(server, SPLIT)
    assert status == 200
    assert answer == expected
    predictions = answer["predictions"]
    assert len(predictions) == 3 and all(p["label"] in LABELS and 0 < p["score"] <= 1 for p in predictions)
    assert predictions[0]["score"] == max(predictions[0][f"prob_{label}"] for label in LABELS)


def test_csv_is_served_too(server):
    status, answer = post(server, ("text\n" + "\n".join(TINY_TEXTS[:2])).encode(), "text/csv")
    assert status == 200 and len(answer["predictions"]) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rows": [["x"]]}, "exactly one of the input fields"),
        ({"dataframe_split": {"columns": ["headline"], "data": [["x"]]}}, "missing inputs ['text']"),
        (b"{not json", "valid JSON"),
    ],
)
def test_bad_requests_get_400_with_the_reason(server, body, message):
    status, answer = post(server, body)
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert message in answer["message"]


def test_health_and_ready_say_what_is_served(server, run_dir):
    assert get(server, "/health") == (200, {"status": "ok"})
    assert get(server, "/ping")[0] == 200
    status, ready = get(server, "/ready")
    assert status == 200 and ready["variant"] == "int8" and ready["onnx_file"] == "model.int8.onnx"
    assert ready["providers"] == ["CPUExecutionProvider"] and ready["labels"] == LABELS
    assert get(server, "/nowhere")[0] == 404


def test_concurrent_requests_each_get_their_own_rows(run_dir):
    """24 requests at once of 1-3 texts each, through the batcher, get their own answers. On the fp32
    model: padded with its neighbours a text keeps its logits (the attention mask), while int8's
    dynamic quantisation ranges span the whole batch and move probabilities a little (labels near a
    tie can flip), one more reason batching is off by default."""
    server = serve(lambda: load_served(str(run_dir), variant="fp32"), port=0, max_wait_ms=20)
    server.wait_ready()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        bodies = [{"inputs": {"text": TINY_TEXTS[i % 5 : i % 5 + 1 + i % 3]}} for i in range(24)]
        alone = [post(url, body)[1]["predictions"] for body in bodies]
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(lambda body: post(url, body)[1]["predictions"], bodies))
    finally:
        server.shutdown()
    assert [len(answer) for answer in together] == [len(texts["inputs"]["text"]) for texts in bodies]
    for answer, expected in zip(together, alone, strict=True):
        for got, want in zip(answer, expected, strict=True):
            assert got["label"] == want["label"]
            assert got["score"] == pytest.approx(want["score"], abs=1e-5)


def test_ready_is_503_while_loading_and_when_the_model_cannot_load(tmp_path):
    server = serve(lambda: load_served(str(tmp_path / "nothing")), port=0)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(RuntimeError, match="does not exist; pass models:/<name>@champion, a run"):
            server.wait_ready()
        status, ready = get(url, "/ready")
        assert status == 503 and ready["status"] == "failed"
        assert get(url, "/health")[0] == 200
        assert post(url, SPLIT)[0] == 503
    finally:
        server.shutdown()


def test_a_run_dir_without_a_teacher_export_says_what_it_looked_for(run_dir):
    with pytest.raises(ServeInputError, match="holds no teacher ONNX export"):
        load_served(str(run_dir), role="teacher")


def test_slimnlp_serve_and_a_request_as_the_readme_shows(run_dir, tmp_path):
    """The README's quick start: `slimnlp serve --model <run dir>`, then `curl` returns labels."""
    (port,) = _free_ports(1)
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "slimnlp", "serve", "--model", str(run_dir), "--port", str(port)]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(f"{url}/ready", process, log, timeout_s=120)
        curl = subprocess.run(
            [
                "curl",
                "-s",
                f"{url}/invocations",
                "-H",
                "Content-Type: application/json",
                "-d",
                json.dumps(SPLIT),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        _stop(process)
    predictions = json.loads(curl.stdout)["predictions"]
    assert [p["label"] in LABELS for p in predictions] == [True] * 3
    assert f"on {url}" in Path(log).read_text()
