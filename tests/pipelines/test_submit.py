"""`slimnlp upload / submit / schedule / schedules` against a recording KFP API server.

No KFP server can run here, so a small HTTP server on 127.0.0.1 (a thread in the test) answers the
KFP v2beta1 REST calls the real `kfp.Client` makes (healthz, experiments, pipelines and their
versions, runs, recurringruns) and records every request; the tests check the payloads the client
sent, each JSON body against the kfp client's own API model (kfp_server_api).
"""

from __future__ import annotations

import datetime as dt
import email.parser
import http.server
import json
import threading
import urllib.parse

import pytest
import yaml

from slimnlp.config import load_config
from slimnlp_pipelines.cli import main
from slimnlp_pipelines.kfp_client import KfpError, next_fire_times, to_kfp_cron

TOKEN = "s3cr3t-token-value"


class FakeKfp(http.server.ThreadingHTTPServer):
    """Answers like the KFP API server and keeps (method, path, query, headers, body) of each request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.experiments = {"Default": "exp-default", "slimnlp": "exp-slimnlp"}
        self.recurring: dict[str, dict] = {}
        self.pipelines: dict[str, dict] = {}  # id -> {"display_name", "versions": {id: version}}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def created(self, kind: str) -> list[dict]:
        path = f"/apis/v2beta1/{kind}"
        return [r["body"] for r in self.requests if r["method"] == "POST" and r["path"] == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeKfp

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        request = {
            "method": self.command,
            "path": url.path,
            "query": urllib.parse.parse_qs(url.query),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": _multipart(content_type, raw)
            if "multipart" in content_type
            else (json.loads(raw) if raw else None),
        }
        self.server.requests.append(request)
        return request

    def do_GET(self) -> None:
        request = self._record()
        path, query = request["path"], request["query"]
        if path == "/apis/v2beta1/healthz":
            return self._answer(200, {"multi_user": False})
        if path == "/apis/v2beta1/experiments":
            wanted = None
            if "filter" in query:
                wanted = json.loads(query["filter"][0])["predicates"][0]["stringValue"]
            found = [
                {"experiment_id": eid, "display_name": name}
                for name, eid in self.server.experiments.items()
                if wanted in (None, name)
            ]
            return self._answer(200, {"experiments": found, "total_size": len(found)} if found else {})
        if path == "/apis/v2beta1/recurringruns":
            runs = list(self.server.recurring.values())
            if "filter" in query:
                wanted = json.loads(query["filter"][0])["predicates"][0]["stringValue"]
                runs = [run for run in runs if run["display_name"] == wanted]
            # The one camelCase field of the v2beta1 API (kfp_server_api maps it back to recurring_runs).
            return self._answer(200, {"recurringRuns": runs, "total_size": len(runs)})
        if path == "/apis/v2beta1/pipelines":
            wanted = (
                json.loads(query["filter"][0])["predicates"][0]["stringValue"] if "filter" in query else None
            )
            found = [
                {"pipeline_id": pid, "display_name": p["display_name"]}
                for pid, p in self.server.pipelines.items()
                if wanted in (None, p["display_name"])
            ]
            return self._answer(200, {"pipelines": found, "total_size": len(found)} if found else {})
        if path.startswith("/apis/v2beta1/pipelines/") and path.endswith("/versions"):
            pipeline = self.server.pipelines[path.split("/")[4]]
            wanted = (
                json.loads(query["filter"][0])["predicates"][0]["stringValue"] if "filter" in query else None
            )
            found = [v for v in pipeline["versions"].values() if wanted in (None, v["display_name"])]
            return self._answer(200, {"pipeline_versions": found, "total_size": len(found)} if found else {})
        if path.startswith("/apis/v2beta1/recurringruns/"):
            run = self.server.recurring.get(path.rsplit("/", 1)[1])
            if run is None:
                return self._answer(404, {"error": "not found", "code": 5, "message": "not found"})
            return self._answer(200, run)
        return self._answer(404, {"error": f"no route {path}"})

    def do_POST(self) -> None:
        request = self._record()
        path, body = request["path"], request["body"]
        if path == "/apis/v2beta1/experiments":
            self.server.experiments[body["display_name"]] = "exp-new"
            return self._answer(200, {**body, "experiment_id": "exp-new"})
        if path == "/apis/v2beta1/pipelines/upload":
            pid = f"p-{len(self.server.pipelines) + 1}"
            name = request["query"]["name"][0]
            self.server.pipelines[pid] = {"display_name": name, "versions": {}}
            return self._answer(200, {"pipeline_id": pid, "display_name": name})
        if path == "/apis/v2beta1/pipelines/upload_version":
            pid, name = request["query"]["pipelineid"][0], request["query"]["name"][0]
            versions = self.server.pipelines[pid]["versions"]
            version = {
                "pipeline_id": pid,
                "pipeline_version_id": f"{pid}-v{len(versions) + 1}",
                "display_name": name,
            }
            versions[version["pipeline_version_id"]] = version
            return self._answer(200, version)
        if path == "/apis/v2beta1/runs":
            return self._answer(200, {**body, "run_id": "run-123", "state": "PENDING"})
        if path == "/apis/v2beta1/recurringruns":
            run = {**body, "recurring_run_id": f"rr-{len(self.server.recurring) + 1}", "status": "ENABLED"}
            self.server.recurring[run["recurring_run_id"]] = run
            return self._answer(200, run)
        if path.startswith("/apis/v2beta1/recurringruns/"):
            run_id, verb = path.rsplit("/", 1)[1].split(":")
            self.server.recurring[run_id]["status"] = {"enable": "ENABLED", "disable": "DISABLED"}[verb]
            return self._answer(200, {})
        return self._answer(404, {"error": f"no route {path}"})

    def do_DELETE(self) -> None:
        request = self._record()
        self.server.recurring.pop(request["path"].rsplit("/", 1)[1], None)
        return self._answer(200, {})


def _multipart(content_type: str, raw: bytes) -> dict:
    """A multipart/form-data upload as {field: text} (the pipeline YAML under "uploadfile")."""
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
        for part in message.get_payload()
    }


def check_model(body: dict, model: str) -> None:
    """Every field of a request body is a field of the kfp client's own API model (recursively), and
    the model accepts the values."""
    import kfp_server_api

    cls = getattr(kfp_server_api, model)
    python_name = {json_name: name for name, json_name in cls.attribute_map.items()}
    for key, value in body.items():
        assert key in python_name, f"{model} has no field {key!r} (fields: {sorted(python_name)})"
        kind = cls.openapi_types[python_name[key]]
        if kind.startswith("V2beta1") and isinstance(value, dict):
            check_model(value, kind)
    cls(**{python_name[k]: v for k, v in body.items()})


@pytest.fixture
def kfp_server(monkeypatch):
    server = FakeKfp()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("SLIMNLP_KFP_TOKEN", TOKEN)
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)
    yield server
    server.shutdown()
    server.server_close()


OVERRIDES = [
    "--set",
    "prune.target_sparsity=0.35",
    "--set",
    "kubernetes.image=registry.example/slimnlp:9",
    "--set",
    "kubernetes.gpu_image=registry.example/slimnlp:9-cuda",
]


# --------------------------------------------------------------------------------------------------
# submit


def uploads(server: FakeKfp, kind: str = "upload_version") -> list[dict]:
    return [r for r in server.requests if r["path"] == f"/apis/v2beta1/pipelines/{kind}"]


def test_upload_creates_the_pipeline_then_versions_by_config(kfp_server, capsys):
    from slimnlp_pipelines.kfp_pipelines import version_name

    argv = ["upload", "--host", kfp_server.url, *OVERRIDES]
    assert main(argv) == 0
    cfg = load_config(None, OVERRIDES[1::2])
    (created,) = uploads(kfp_server, "upload")
    assert created["query"]["name"] == ["slimnlp-marathi-sample"]
    (version,) = uploads(kfp_server)
    assert version["query"]["name"] == [version_name(cfg)] and version["query"]["pipelineid"] == ["p-1"]
    assert (
        version_name(cfg).rsplit("-", 1)[1]
        == __import__("hashlib").sha256(cfg.to_json().encode()).hexdigest()[:12]
    )
    # The version holds the compiled pipeline: the config as the default of every run.
    spec = next(yaml.safe_load_all(version["body"]["uploadfile"]))
    base = spec["root"]["dag"]["tasks"]["resolve-config"]["inputs"]["parameters"]["base_config"]
    assert json.loads(base["runtimeValue"]["constant"])["prune"]["target_sparsity"] == 0.35
    assert (
        f"uploaded pipeline 'slimnlp-marathi-sample' version '{version_name(cfg)}'" in capsys.readouterr().out
    )
    # The same config again: found, nothing uploaded. Another config: a new version of the same pipeline.
    assert main(argv) == 0
    assert len(uploads(kfp_server)) == 1 and "found pipeline" in capsys.readouterr().out
    assert main([*argv, "--set", "distill.epochs=9"]) == 0
    assert len(uploads(kfp_server, "upload")) == 1 and len(uploads(kfp_server)) == 2
    assert len(kfp_server.pipelines["p-1"]["versions"]) == 2


def test_submit_runs_the_version_with_typed_parameters(kfp_server, capsys):
    argv = ["submit", "--host", kfp_server.url, "--experiment", "slimnlp", "--run-name", "shc-1", *OVERRIDES]
    params = ["--param", "data_dir=s3://ml-data/shc-2026-12", "--param", "max_drop_vs_teacher=0.01"]
    params += ["--param", "overrides=distill.epochs=2", "--param", "overrides=teacher.epochs=3"]
    assert main([*argv, *params, "--tracking-uri", "http://mlflow:5000"]) == 0
    out = capsys.readouterr().out
    assert "submitted run run-123" in out and f"{kfp_server.url}/#/runs/details/run-123" in out

    (run,) = kfp_server.created("runs")
    check_model(run, "V2beta1Run")
    assert run["experiment_id"] == "exp-slimnlp" and run["display_name"] == "shc-1"
    assert "pipeline_spec" not in run  # the run points at the uploaded version
    assert run["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "p-1-v1"}
    assert run["runtime_config"]["parameters"] == {
        "data_dir": "s3://ml-data/shc-2026-12",
        "max_drop_vs_teacher": 0.01,
        "overrides": ["distill.epochs=2", "teacher.epochs=3"],
        "kfp_host": kfp_server.url,
        "tracking_uri": "http://mlflow:5000",
    }
    # The token travels as a header, health was checked first, and no experiment was created.
    assert all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in kfp_server.requests)
    assert kfp_server.requests[0]["path"] == "/apis/v2beta1/healthz"
    assert kfp_server.created("experiments") == []
    # A second run of the same config reuses the version; --no-cache turns caching off for the run.
    assert main([*argv, "--no-cache"]) == 0
    assert len(uploads(kfp_server)) == 1
    second = kfp_server.created("runs")[1]
    assert second["pipeline_version_reference"]["pipeline_version_id"] == "p-1-v1"
    assert second["runtime_config"]["parameters"]["cache"] is False


@pytest.mark.parametrize(
    ("param", "message"),
    [("epochs=3", "NAME one of data_dir"), ("max_drop_vs_teacher=lots", "max_drop_vs_teacher is a float")],
)
def test_bad_param_fails_before_any_request(kfp_server, capsys, param, message):
    assert main(["submit", "--host", kfp_server.url, "--param", param]) == 2
    assert message in capsys.readouterr().err
    assert kfp_server.requests == []


def test_submit_unknown_experiment_creates_nothing(kfp_server, capsys):
    assert main(["submit", "--host", kfp_server.url, "--experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert "experiment 'nope' does not exist" in err
    assert "Default, slimnlp" in err and "--create-experiment" in err
    assert kfp_server.created("runs") == [] and kfp_server.created("experiments") == []
    assert TOKEN not in err


def test_schedule_unknown_experiment_creates_nothing(kfp_server, capsys):
    assert main(["schedule", "--host", kfp_server.url, "--cron", "0 3 * * *", "--experiment", "nope"]) == 2
    assert "experiment 'nope' does not exist" in capsys.readouterr().err
    assert kfp_server.created("recurringruns") == [] and kfp_server.created("experiments") == []


def test_submit_create_experiment(kfp_server):
    assert main(["submit", "--host", kfp_server.url, "--experiment", "new", "--create-experiment"]) == 0
    assert [e["display_name"] for e in kfp_server.created("experiments")] == ["new"]
    assert kfp_server.created("runs")[0]["experiment_id"] == "exp-new"


def test_host_not_answering(capsys, monkeypatch):
    monkeypatch.setenv("SLIMNLP_KFP_TOKEN", TOKEN)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()  # the port is free now: nothing answers there
    assert main(["submit", "--host", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"KFP host http://127.0.0.1:{port} does not answer" in err
    assert TOKEN not in err


def test_host_that_is_not_kfp(capsys):
    assert main(["submit", "--host", "not a url"]) == 2
    assert "--host 'not a url' is not a URL" in capsys.readouterr().err


def test_token_file(kfp_server, tmp_path, monkeypatch):
    monkeypatch.delenv("SLIMNLP_KFP_TOKEN")
    (tmp_path / "token").write_text("from-file\n")
    assert main(["submit", "--host", kfp_server.url, "--token-file", str(tmp_path / "token")]) == 0
    assert kfp_server.requests[-1]["headers"]["authorization"] == "Bearer from-file"
    assert main(["submit", "--host", kfp_server.url, "--token-file", str(tmp_path / "missing")]) == 2


# --------------------------------------------------------------------------------------------------
# schedule and schedules


def test_schedule_converts_cron_and_shows_fire_times(kfp_server, capsys):
    argv = ["schedule", "--host", kfp_server.url, "--cron", "30 2 * * 1", "--experiment", "slimnlp"]
    assert main([*argv, *OVERRIDES]) == 0
    out = capsys.readouterr().out
    assert "KFP '0 30 2 * * 1'" in out
    assert out.count(" 02:30:00") == 3 and out.count("Mon ") == 3
    assert "created recurring run rr-1" in out and "on version '" in out

    (recurring,) = kfp_server.created("recurringruns")
    check_model(recurring, "V2beta1RecurringRun")
    assert recurring["trigger"] == {"cron_schedule": {"cron": "0 30 2 * * 1"}}
    assert recurring["mode"] == "ENABLE"
    assert int(recurring["max_concurrency"]) == 1
    assert recurring["no_catchup"] is True
    assert recurring["display_name"] == "marathi-sample-retrain"
    assert recurring["experiment_id"] == "exp-slimnlp"
    # A recurring run points at a version: uploading another version later does not move it.
    assert "pipeline_spec" not in recurring
    assert recurring["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "p-1-v1"}
    assert recurring["runtime_config"]["parameters"] == {"kfp_host": kfp_server.url}


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 2 * * 1", "out of range"),
        ("* * *", "has 3 fields"),
        ("0 0 0 L * *", "the day of month field 'L'"),
        ("0 2 31 2 *", "never fires"),
    ],
)
def test_bad_cron_fails_before_any_request(kfp_server, capsys, cron, message):
    assert main(["schedule", "--host", kfp_server.url, "--cron", cron]) == 2
    assert message in capsys.readouterr().err
    assert kfp_server.requests == []


def test_schedule_dry_run_creates_nothing(capsys):
    assert main(["schedule", "--cron", "@weekly", "--dry-run"]) == 0
    assert "KFP '0 0 0 * * 0'" in capsys.readouterr().out


def test_schedules_list_pause_resume_delete(kfp_server, capsys):
    assert main(["schedule", "--host", kfp_server.url, "--cron", "0 3 * * *", "--name", "nightly"]) == 0
    capsys.readouterr()
    assert main(["schedules", "list", "--host", kfp_server.url]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["ID", "NAME", "STATUS", "CRON", "CREATED"]
    assert listing[1].split()[:4] == ["rr-1", "nightly", "ENABLED", "0"]

    assert main(["schedules", "pause", "--host", kfp_server.url, "rr-1"]) == 0
    assert kfp_server.requests[-1]["method"] == "POST"
    assert kfp_server.requests[-1]["path"] == "/apis/v2beta1/recurringruns/rr-1:disable"
    assert kfp_server.recurring["rr-1"]["status"] == "DISABLED"
    assert main(["schedules", "resume", "--host", kfp_server.url, "rr-1"]) == 0
    assert kfp_server.requests[-1]["path"] == "/apis/v2beta1/recurringruns/rr-1:enable"
    assert main(["schedules", "delete", "--host", kfp_server.url, "rr-1"]) == 0
    assert kfp_server.requests[-1]["method"] == "DELETE"
    assert kfp_server.recurring == {}


def test_schedule_with_a_taken_name_creates_nothing(kfp_server, capsys):
    argv = ["schedule", "--host", kfp_server.url, "--cron", "0 3 * * *", "--name", "nightly"]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "a recurring run named 'nightly' already exists (rr-1)" in capsys.readouterr().err
    assert len(kfp_server.created("recurringruns")) == 1


def test_host_that_is_not_kfp_answers(http_server, capsys):
    _, url = http_server  # a plain file server: /apis/v2beta1/healthz is a 404 page
    assert main(["schedule", "--host", url, "--cron", "0 3 * * *"]) == 2
    assert (
        f"{url}/apis/v2beta1/healthz answered HTTP 404 without KFP's health JSON" in capsys.readouterr().err
    )


def test_schedules_unknown_id(kfp_server, capsys):
    assert main(["schedules", "delete", "--host", kfp_server.url, "rr-404"]) == 2
    assert "no recurring run with id 'rr-404'" in capsys.readouterr().err
    assert not any(r["method"] == "DELETE" for r in kfp_server.requests)


# --------------------------------------------------------------------------------------------------
# cron conversion


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0 3 * * 1", "0 0 3 * * 1"),
        ("  */15   * * * * ", "0 */15 * * * *"),
        ("0 0 9 ? * 2-6", "0 0 9 ? * 2-6"),
        ("0 4 1 JAN,JUL *", "0 0 4 1 JAN,JUL *"),
        ("@daily", "0 0 0 * * *"),
    ],
)
def test_to_kfp_cron(given, expected):
    assert to_kfp_cron(given) == expected


def test_next_fire_times_seconds_first():
    start = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)
    times = next_fire_times("0 30 2 * * 1", start=start)
    assert [t.isoformat() for t in times] == [
        "2026-11-30T02:30:00+00:00",
        "2026-12-07T02:30:00+00:00",
        "2026-12-14T02:30:00+00:00",
    ]


def test_month_names_only_in_month_fields():
    with pytest.raises(KfpError, match="the hour field 'JAN'"):
        to_kfp_cron("0 JAN * * *")


def test_compiled_package_is_what_is_uploaded(kfp_server, tmp_path):
    # The uploaded version equals `slimnlp compile` output for the same config.
    assert main(["submit", "--host", kfp_server.url, *OVERRIDES]) == 0
    assert main(["compile", "--out", str(tmp_path / "p.yaml"), *OVERRIDES]) == 0
    sent = list(yaml.safe_load_all(uploads(kfp_server)[0]["body"]["uploadfile"]))
    assert sent == list(yaml.safe_load_all((tmp_path / "p.yaml").read_text()))
