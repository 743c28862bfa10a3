"""The promotion gate (pure), and the promote step + `slimnlp registry` against a real MLflow server
whose artifact store is a real S3 server (SeaweedFS), including the faults people meet."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from slimnlp import steps
from slimnlp.config import ConfigError, RegistryConfig, load_config
from slimnlp.data.artifacts import write_label_map, write_report, write_split
from slimnlp.promote.promotion import decide
from slimnlp.promote.registry import RegistryError
from slimnlp_pipelines.cli import main
from tests.conftest import _free_ports
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS, tiny_onnx_export

# --------------------------------------------------------------------------------------------------
# The gate: plain numbers in, a decision with reasons out

TEACHER = {"accuracy": 0.90, "latency_ms": 4.0, "size_bytes": 40e6}
CHAMPION = {"accuracy": 0.88, "latency_ms": 2.0, "size_bytes": 20e6}


@pytest.mark.parametrize(
    ("candidate", "champion", "gate", "promote", "failed"),
    [
        # within 0.02 of the teacher and faster: the first version becomes champion
        ({"accuracy": 0.885, "latency_ms": 1.5, "size_bytes": 9e6}, None, "faster", True, []),
        # 0.05 below the teacher: refused although it is faster
        (
            {"accuracy": 0.85, "latency_ms": 1.0, "size_bytes": 9e6},
            None,
            "faster",
            False,
            ["accuracy vs teacher"],
        ),
        # as accurate, but slower than the champion
        (
            {"accuracy": 0.89, "latency_ms": 2.5, "size_bytes": 9e6},
            CHAMPION,
            "faster",
            False,
            ["faster than champion"],
        ),
        # more than 0.01 below the champion (re-scored on the same test set)
        (
            {"accuracy": 0.89, "served_accuracy": 0.86, "latency_ms": 1.0, "size_bytes": 9e6},
            CHAMPION,
            "faster",
            False,
            ["accuracy vs champion"],
        ),
        # gate=smaller ignores latency, checks bytes
        (
            {"accuracy": 0.89, "latency_ms": 9.0, "size_bytes": 25e6},
            CHAMPION,
            "smaller",
            False,
            ["smaller than champion"],
        ),
        ({"accuracy": 0.89, "latency_ms": 9.0, "size_bytes": 15e6}, CHAMPION, "smaller", True, []),
        # the budget is inclusive: exactly 0.02 below the teacher passes
        ({"accuracy": 0.88, "latency_ms": 1.0, "size_bytes": 9e6}, None, "faster", True, []),
    ],
)
def test_gate(candidate, champion, gate, promote, failed):
    decision = decide(candidate, TEACHER, champion, RegistryConfig(gate=gate))
    assert decision.promote is promote
    assert [c.name for c in decision.checks if not c.passed] == failed
    assert len(decision.reasons) == len(decision.checks) == 2 + 2 * (champion is not None)
    assert all(r.startswith(("pass ", "FAIL ")) for r in decision.reasons)


def test_gate_reasons_carry_the_numbers():
    decision = decide({"accuracy": 0.85, "latency_ms": 1.0, "size_bytes": 1}, TEACHER, None, RegistryConfig())
    assert decision.reasons[0] == (
        "FAIL accuracy vs teacher: accuracy 0.8500 vs the teacher's 0.9000 (drop +0.0500, budget 0.0200)"
    )
    assert decision.reasons[1] == (
        "pass faster than teacher: 1 ms vs the teacher's 4 ms: 4.000x, needs >= 1.100x "
        "(min_ratio 1.10x; no round spread recorded)"
    )


# (teacher ms, student ms, spread of the student's rounds, spread of the teacher's, min_ratio, passes)
MARGINS = [
    (5.74, 5.66, 0.03, 0.02, 1.0, False),  # the 1.4% "speed-up", inside a 3% spread: noise
    (5.74, 5.66, None, None, 1.1, False),  # no spread recorded: the configured minimum still holds
    (5.74, 5.30, 0.03, 0.02, 1.1, False),  # 1.083x: beyond the 3% spread, short of min_ratio 1.1
    (5.74, 5.30, 0.03, 0.02, 1.05, True),
    (5.74, 4.00, 0.50, 0.02, 1.1, False),  # 1.435x, but the rounds moved by 50%: needs 1.5x
    (5.74, 3.50, 0.50, 0.02, 1.1, True),
]


@pytest.mark.parametrize(
    ("teacher_ms", "student_ms", "spread", "teacher_spread", "min_ratio", "passes"), MARGINS
)
def test_faster_needs_a_margin_beyond_the_round_spread_and_min_ratio(
    teacher_ms, student_ms, spread, teacher_spread, min_ratio, passes
):
    candidate = {"accuracy": 0.9, "latency_ms": student_ms, "size_bytes": 1, "latency_spread": spread}
    teacher = {**TEACHER, "latency_ms": teacher_ms, "latency_spread": teacher_spread}
    decision = decide(candidate, teacher, None, RegistryConfig(min_ratio=min_ratio))
    check = decision.checks[1]
    assert check.name == "faster than teacher" and check.passed is passes and decision.promote is passes
    needed = max(min_ratio, 1 + max(s for s in (spread, teacher_spread, 0.0) if s is not None))
    # the decision prints both figures, the ratio and the margin it had to reach
    assert (
        f"{student_ms:.3g} ms vs the teacher's {teacher_ms:.3g} ms: {teacher_ms / student_ms:.3f}x"
        in check.detail
    )
    assert f"needs >= {needed:.3f}x" in check.detail
    if spread is None:
        assert "no round spread recorded" in check.detail
    else:
        assert f"round spread {max(spread, teacher_spread):.1%}" in check.detail


def test_smaller_needs_min_ratio_and_the_round_spread_of_a_champion_counts():
    smaller = RegistryConfig(gate="smaller", min_ratio=1.1)
    assert not decide({"accuracy": 0.9, "latency_ms": 1, "size_bytes": 38e6}, TEACHER, None, smaller).promote
    assert decide({"accuracy": 0.9, "latency_ms": 9, "size_bytes": 36e6}, TEACHER, None, smaller).promote
    champion = {**CHAMPION, "latency_spread": 0.4}  # registered by a run on a busy machine
    candidate = {"accuracy": 0.9, "latency_ms": 1.5, "size_bytes": 1, "latency_spread": 0.01}
    decision = decide(candidate, TEACHER, champion, RegistryConfig())
    assert [c.name for c in decision.checks if not c.passed] == ["faster than champion"]
    assert "needs >= 1.400x" in decision.reasons[-1]


def test_round_spread_from_benchmark_samples():
    from slimnlp.promote.gate import round_spread, spread_from_results

    # 3 rounds of 2 iterations: round medians 10, 11, 9 -> (11 - 9) / 10
    assert round_spread([10, 10, 11, 11, 9, 9], 3) == pytest.approx(0.2)
    assert round_spread([10, 12], 1) is None
    results = {"config": {"rounds": 3}, "latency_samples_ms": {"student-onnx": {"1": [10, 10, 11, 11, 9, 9]}}}
    assert spread_from_results(results, "student-onnx", "latency_b1_p50_ms") == pytest.approx(0.2)
    assert spread_from_results(results, "student-onnx", "latency_b32_p50_ms") is None
    with pytest.raises(ConfigError, match=r"registry.min_ratio must be >= 1.0"):
        load_config(None, ["registry.min_ratio=0.9"])


def test_gate_refuses_a_champion_without_recorded_latency():
    champion = {"accuracy": 0.88, "latency_ms": None, "size_bytes": None}
    decision = decide(
        {"accuracy": 0.9, "latency_ms": 1.0, "size_bytes": 1}, TEACHER, champion, RegistryConfig()
    )
    assert not decision.promote and "the champion has no recorded latency_ms" in decision.reasons[-1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("registry.gate=fast", "registry.gate must be 'faster' or 'smaller'"),
        ("registry.max_drop_vs_teacher=2", r"registry.max_drop_vs_teacher must be in \[0, 1\]"),
        ("registry.model_name=my model", "registry.model_name must be letters"),
        (
            "registry.latency_metric=p50",
            "registry.latency_metric must be a benchmark latency column such as latency_b1_p50_ms",
        ),
    ],
)
def test_bad_registry_config_fails_at_load(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


# --------------------------------------------------------------------------------------------------
# A run's outputs, built directly: the tiny student's real ONNX export, benchmark rows we choose


@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("promote-inputs")
    data = root / "data"
    data.mkdir()
    label2id = write_label_map(data, [TINY_ID2LABEL[i] for i in range(len(TINY_ID2LABEL))])
    table = pd.DataFrame({"text": TINY_TEXTS, "label": [TINY_ID2LABEL[i] for i in TINY_LABELS]})
    for split in ("train", "dev", "test"):
        write_split(data, split, table, label2id)
    write_report(data, {"data_sha256": "abc123", "test_rows": len(TINY_TEXTS)})
    teacher = root / "teacher"
    teacher.mkdir()
    (teacher / "metrics.json").write_text(json.dumps({"source": "from-config"}))
    onnx_dir, _ = tiny_onnx_export("student")
    return {"root": root, "data": data, "teacher": teacher, "onnx": onnx_dir}


def results_dir(root: Path, *, accuracy=0.9, latency=1.0, size=1e6, teacher_accuracy=0.9) -> Path:
    """A benchmark output with the numbers the gate reads."""
    out = root / f"bench-{uuid.uuid4().hex[:6]}"
    out.mkdir()
    rows = [
        {"name": "teacher-onnx", "accuracy": teacher_accuracy, "macro_f1": 0.9, "size_bytes": 4e6},
        {"name": "student-onnx", "accuracy": accuracy, "macro_f1": 0.88, "size_bytes": size},
    ]
    rows[0] |= {"latency_b1_p50_ms": 4.0, "params_total": 4000}
    rows[1] |= {"latency_b1_p50_ms": latency, "params_total": 1000}
    # The int8 rows (what serves by default) with the same numbers; the fp32 ones 3x slower.
    int8 = [{**row, "name": row["name"] + "-int8"} for row in rows]
    for row in rows:
        row["latency_b1_p50_ms"] *= 3
    (out / "results.json").write_text(json.dumps({"rows": rows + int8}))
    return out


@pytest.mark.parametrize(("variant", "student_ms"), [("int8", 1.0), ("fp32", 3.0)])
def test_the_gate_reads_the_rows_of_the_served_variant(tmp_path, variant, student_ms):
    from slimnlp.promote.promotion import _benchmark_rows

    student, teacher = _benchmark_rows(results_dir(tmp_path), "latency_b1_p50_ms", variant)
    assert (student["latency_ms"], teacher["latency_ms"]) == (student_ms, 4.0 * student_ms)
    assert student["variant"] == variant
    (tmp_path / "only-fp32").mkdir()
    (tmp_path / "only-fp32" / "results.json").write_text(json.dumps({"rows": [{"name": "student-onnx"}]}))
    with pytest.raises(
        RegistryError, match=r"no student-onnx-int8 row .* keep 'onnx-int8' in benchmark.runtimes"
    ):
        _benchmark_rows(tmp_path / "only-fp32", "latency_b1_p50_ms", "int8")


def config(server_url: str, name: str, *extra: str):
    return load_config(
        None,
        [
            f"tracking.tracking_uri={server_url}",
            f"tracking.experiment=exp-{name}",
            "tracking.codecarbon=false",
            f"registry.model_name={name}",
            *extra,
        ],
    )


def promote(cfg, inputs, results: Path) -> dict:
    out = inputs["root"] / f"promote-{uuid.uuid4().hex[:6]}"
    return steps.promote(cfg, inputs["data"], inputs["teacher"], inputs["onnx"], results, out)["decision"]


def client_for(server) -> mlflow.MlflowClient:
    mlflow.set_tracking_uri(server.url)
    return mlflow.MlflowClient(server.url)


def aliases(client, name) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}


# --------------------------------------------------------------------------------------------------
# The promote step and the CLI on a real server


def test_challenger_champion_refusal_and_rollback(registry_server, run_outputs, capsys):
    name = f"flow-{uuid.uuid4().hex[:6]}"
    cfg = config(registry_server.url, name)
    client = client_for(registry_server)
    root = run_outputs["root"]

    first = promote(cfg, run_outputs, results_dir(root, latency=1.0))
    assert first["promoted"] and first["version"] == "1"
    assert aliases(client, name) == {"challenger": "1", "champion": "1"}

    slower = promote(cfg, run_outputs, results_dir(root, latency=3.0))
    assert not slower["promoted"] and slower["version"] == "2"
    assert any(
        r.startswith("FAIL faster than champion: 3 ms vs the champion's 1 ms: 0.333x")
        for r in slower["reasons"]
    )
    assert slower["champion_before"]["accuracy"] == first["candidate"]["served_accuracy"]  # re-scored
    assert aliases(client, name) == {"challenger": "2", "champion": "1"}
    assert "NOT promoted" in capsys.readouterr().out

    better = promote(cfg, run_outputs, results_dir(root, latency=0.5))
    assert better["promoted"]
    assert aliases(client, name) == {"challenger": "3", "champion": "3", "previous": "1"}

    tags = client.get_model_version(name, "3").tags
    assert tags["slimnlp.data_sha256"] == "abc123" and tags["slimnlp.teacher"] == "from-config"
    assert float(tags["slimnlp.latency_ms"]) == 0.5 and float(tags["slimnlp.test_accuracy"]) == 0.9
    assert json.loads(tags["slimnlp.recipe"])["prune"]["target_sparsity"] == 0.25
    assert tags["slimnlp.decision"] == "promoted" and "emissions_kg_co2" in " ".join(tags)
    assert client.get_model_version(name, "2").tags["slimnlp.decision"] == "refused"

    assert main(["registry", "rollback", name, "--tracking-uri", registry_server.url]) == 0
    assert "champion is now version 1, previous is version 3" in capsys.readouterr().out
    assert aliases(client, name)["champion"] == "1" and aliases(client, name)["previous"] == "3"

    assert main(["registry", "promote", name, "2", "--tracking-uri", registry_server.url]) == 0
    assert "champion is now version 2; was version 1" in capsys.readouterr().out
    assert main(["registry", "list", name, "--tracking-uri", registry_server.url]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:3] == ["name", "version", "aliases"]
    assert [line.split()[1:3] for line in listing[1:]] == [
        ["3", "challenger"],
        ["2", "champion"],
        ["1", "previous"],
    ]


def test_a_nas_student_that_holds_no_budget_is_challenger_with_the_reason(
    registry_server, run_outputs, capsys
):
    """select-student's reason (kept by export-onnx as model_metrics.json) reaches the version's tags,
    decision.json and the printed decision (issue 29); a student it could not certify is refused the
    champion alias even when its test figures pass every other check."""
    name = f"nas-{uuid.uuid4().hex[:6]}"
    onnx = run_outputs["root"] / f"onnx-{uuid.uuid4().hex[:6]}"
    shutil.copytree(run_outputs["onnx"], onnx)
    reason = "no recovered candidate holds the 0.0100 budget: 7 (-0.0400 .. -0.0100) is the most accurate"
    choice = {
        "choice_reason": reason,
        "student_holds_budget": False,
        "student_arch": "-|1x64",
        "accuracy": 0.8,
    }
    (onnx / "model_metrics.json").write_text(json.dumps(choice))
    cfg = config(registry_server.url, name)
    decision = steps.promote(
        cfg, run_outputs["data"], run_outputs["teacher"], onnx, results_dir(run_outputs["root"]),
        run_outputs["root"] / f"promote-{uuid.uuid4().hex[:6]}",
    )["decision"]  # fmt: skip
    assert not decision["promoted"]
    failed = [c for c in decision["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["NAS choice held its budget"] and failed[0]["detail"] == reason
    assert decision["selection"] == {k: v for k, v in choice.items() if k != "accuracy"}
    tags = client_for(registry_server).get_model_version(name, decision["version"]).tags
    assert (tags["slimnlp.choice_reason"], tags["slimnlp.student_holds_budget"]) == (reason, "False")
    assert f"student chosen among the recovered NAS candidates: {reason}" in capsys.readouterr().out
    # a run without candidates (every other recipe) adds no such tag
    plain = promote(cfg, run_outputs, results_dir(run_outputs["root"]))
    assert plain["selection"] == {}
    assert (
        "slimnlp.choice_reason"
        not in client_for(registry_server).get_model_version(name, plain["version"]).tags
    )


def test_disabled_registry_registers_nothing(mlflow_s3_server, run_outputs):
    name = f"off-{uuid.uuid4().hex[:6]}"
    cfg = config(mlflow_s3_server.url, name, "registry.enabled=false")
    out = run_outputs["root"] / "promote-off"
    assert steps.promote(cfg, run_outputs["data"], run_outputs["teacher"], run_outputs["onnx"], out, out) == {
        "promoted": 0
    }
    assert json.loads((out / "decision.json").read_text())["registered"] is False
    assert not client_for(mlflow_s3_server).search_registered_models(filter_string=f"name = '{name}'")


# --------------------------------------------------------------------------------------------------
# Faults: each leaves the registry and the champion as they were


@pytest.fixture(scope="module")
def champion(mlflow_s3_server, run_outputs):
    """A registered model with version 1 as champion."""
    name = f"faults-{uuid.uuid4().hex[:6]}"
    result = promote(config(mlflow_s3_server.url, name), run_outputs, results_dir(run_outputs["root"]))
    assert result["promoted"]
    return name


def unchanged(server, name) -> None:
    client = client_for(server)
    assert aliases(client, name) == {"challenger": "1", "champion": "1"}
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["1"]


def test_promoting_a_missing_version(mlflow_s3_server, champion, capsys):
    assert main(["registry", "promote", champion, "7", "--tracking-uri", mlflow_s3_server.url]) == 2
    assert f"error: {champion} has no version '7'; its versions are 1" in capsys.readouterr().err
    unchanged(mlflow_s3_server, champion)


def test_registry_name_typo(mlflow_s3_server, champion, capsys):
    typo = champion.replace("faults", "fualts")
    assert main(["registry", "rollback", typo, "--tracking-uri", mlflow_s3_server.url]) == 2
    err = capsys.readouterr().err
    assert f"no registered model '{typo}'" in err and f"did you mean '{champion}'?" in err
    assert main(["registry", "rollback", champion, "--tracking-uri", mlflow_s3_server.url]) == 2
    assert "has no 'previous' alias: there is nothing to roll back to" in capsys.readouterr().err
    unchanged(mlflow_s3_server, champion)


def test_unreachable_tracking_server(mlflow_s3_server, champion, run_outputs, capsys):
    (port,) = _free_ports(1)
    dead = f"http://127.0.0.1:{port}"
    with pytest.raises(RegistryError, match=f"the MLflow tracking server at {dead} is not reachable"):
        promote(config(dead, champion), run_outputs, results_dir(run_outputs["root"], latency=0.1))
    assert main(["registry", "list", "--tracking-uri", dead]) == 2
    assert "slimnlp mlflow-server" in capsys.readouterr().err
    unchanged(mlflow_s3_server, champion)


@pytest.mark.parametrize(
    ("bucket", "secret", "message"),
    [
        ("mlflow-direct", "wrong-secret", "access denied"),
        ("no-such-bucket", None, "does not exist"),
    ],
)
def test_artifact_store_refuses_the_upload(
    mlflow_s3_server, s3_env, champion, run_outputs, monkeypatch, bucket, secret, message
):
    """Clients that write to S3 themselves (an s3:// experiment location) with bad credentials or a
    missing bucket: a clear error naming the key, nothing registered, the champion still serves."""
    from slimnlp.promote.registry import _forget_s3_clients

    _forget_s3_clients()  # MLflow caches its S3 client with the credentials of first use
    s3_env.create_bucket("mlflow-direct")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_env.endpoint_url)
    client = client_for(mlflow_s3_server)
    experiment = f"direct-{uuid.uuid4().hex[:6]}"
    client.create_experiment(experiment, artifact_location=f"s3://{bucket}/{experiment}")
    if secret:
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    cfg = config(mlflow_s3_server.url, champion, f"tracking.experiment={experiment}")
    with pytest.raises(RegistryError) as err:
        promote(cfg, run_outputs, results_dir(run_outputs["root"], latency=0.1))
    text = str(err.value)
    assert f"s3://{bucket}/{experiment}/" in text and message in text
    assert "nothing was registered" in text and (secret or "###") not in text
    unchanged(mlflow_s3_server, champion)
    predictions = mlflow.pyfunc.load_model(f"models:/{champion}@champion").predict(
        pd.DataFrame({"text": TINY_TEXTS[:3]})
    )
    assert len(predictions) == 3  # the champion's artifacts are intact


def test_mlflow_server_verb_builds_a_one_worker_local_server(tmp_path):
    import argparse

    from slimnlp_pipelines.cli_registry import mlflow_server_command

    args = argparse.Namespace(port=5123, host="127.0.0.1", root=str(tmp_path), artifacts_destination=None)
    command = mlflow_server_command(args)
    assert command[1:4] == ["-m", "mlflow", "server"]
    assert command[command.index("--workers") + 1] == "1"
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert command[command.index("--artifacts-destination") + 1] == str(tmp_path / "artifacts")
    args.artifacts_destination = "s3://bucket/mlflow"
    assert mlflow_server_command(args)[-1] == "s3://bucket/mlflow"
