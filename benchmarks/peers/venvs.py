"""One virtual environment per peer, layered over the interpreter that runs `benchmarks/peers.py`.

    python = ensure_venv(Path("runs/peers/venvs"), "optimum", ["optimum-onnx[onnxruntime]"], log)

A layered venv sees slimnlp's own packages (torch, numpy, transformers, slimnlp) *after* its own
site-packages (a .pth file runs `site.addsitedir` on this interpreter's site-packages), so a peer
that pins an older transformers or numpy gets its pin inside its venv and nothing changes in
slimnlp's environment or pyproject. `constrained=True` installs with this interpreter's torch,
numpy, transformers, tokenizers and onnxruntime versions as constraints (for the runtime venv that
times every model in one process: what it imports must be what slimnlp runs on). The installed
versions of every distribution a venv adds are recorded in `<venv>/peer-versions.json`.
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

PINNED = (
    "torch",
    "numpy",
    "transformers",
    "tokenizers",
    "onnxruntime",
    "onnx",
    "huggingface_hub",
    "scikit-learn",
)
VERSIONS_FILE = "peer-versions.json"


class PeerInstallError(RuntimeError):
    """pip could not install a peer; the message holds pip's last lines."""


def _site_packages(root: Path) -> Path:
    return next(root.glob("lib/python*/site-packages"))


def _parent_dirs() -> list[str]:
    dirs = [p for p in site.getsitepackages() if Path(p).is_dir()]
    return [
        d for d in dict.fromkeys(dirs) if not d.startswith(sys.base_prefix) or sys.prefix == sys.base_prefix
    ]


def constraints_file(root: Path) -> Path:
    """This interpreter's versions of PINNED, as a pip constraints file."""
    lines = []
    for name in PINNED:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    path = root / "constraints.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ensure_venv(root: Path, name: str, requirements: list[str], log: Path, constrained: bool = False) -> Path:
    """The python of venv `root/name` with `requirements` installed (made once; reused while its
    requirements are unchanged). Raises PeerInstallError with pip's output when pip fails."""
    home = root / name
    python = home / "bin" / "python"
    stamp = home / "requirements.json"
    wanted = {"requirements": requirements, "constrained": constrained}
    if python.is_file() and stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == wanted:
        return python
    if not python.is_file():
        venv.EnvBuilder(with_pip=True).create(home)
        lines = [f"import site; site.addsitedir({d!r})" for d in _parent_dirs()]
        (_site_packages(home) / "_slimnlp_parent.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements]
    if constrained:
        command += ["-c", str(constraints_file(root))]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-12:]
        raise PeerInstallError(f"pip install {' '.join(requirements)} failed:\n" + "\n".join(tail))
    own = _installed(python)  # everything the venv holds itself (over the layered parent's)
    (home / VERSIONS_FILE).write_text(json.dumps(own, indent=2, sort_keys=True), encoding="utf-8")
    stamp.write_text(json.dumps(wanted), encoding="utf-8")
    return python


def _installed(python: Path) -> dict[str, str]:
    """{distribution: version} in the venv's own site-packages (not the layered parent's)."""
    code = (
        "import json, importlib.metadata as m, sys; p = sys.argv[1]; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions(path=[p])}))"
    )
    home = python.parent.parent
    done = subprocess.run(
        [str(python), "-c", code, str(_site_packages(home))], capture_output=True, text=True, check=False
    )
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else {}


def versions(root: Path, name: str) -> dict[str, str]:
    path = root / name / VERSIONS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
