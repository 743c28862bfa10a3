"""slimnlp beside the peer compression tools a user would pick instead, on one teacher, data and harness.

    python benchmarks/peers.py --config configs/mahasent-mr.yaml --run runs/mahasent-mr
    python benchmarks/peers.py --config C --data D --teacher T [--student S --onnx O --pruned P] \\
        [--peers optimum,model2vec,fasttext,torch-pruning,textpruner] [--tracking-uri URI]

For the run config and its prepared data and teacher (flags; `--run` finds them in a `slimnlp run`
directory or one made by the step verbs), every peer's model is built the way its documentation
builds it (`peers/builders.py`, inside the peer's own venv under `--venvs`, layered over this
interpreter's packages so pins stay there: `peers/venvs.py`), then slimnlp's teacher and student
(ORT int8) and every peer (its fastest runtime) are timed in the same interleaved rounds with
slimnlp's harness (`peers/measure.py`), and `peers/compare.py` says where slimnlp stands against each
peer point. Writes peers.md, peers.json and peers.png to --out (and to MLflow with --tracking-uri).
A peer that does not install or build gets a row saying why; the script still exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.compare import Point, compare_all, round_spread  # noqa: E402
from peers.report import log_to_mlflow, write_outputs  # noqa: E402
from peers.rundirs import find_run_dirs, newest, step_wall_s  # noqa: E402
from peers.venvs import PeerInstallError, ensure_venv, versions  # noqa: E402

HERE = Path(__file__).resolve().parent / "peers"
# name: (venv, pip requirements, constrained to slimnlp's versions)
ZERO_LAYER_THREADS = 1  # ORT intra-op threads for the zero-layer point (see main)
RUNTIME_VENV = ("runtime", ["fasttext-wheel", "model2vec", "torch-pruning"], True)
PEERS: dict[str, tuple[str, list[str], bool]] = {
    "torch-pruning": RUNTIME_VENV,
    "optimum": ("optimum", ["optimum-onnx[onnxruntime]"], False),
    "model2vec": ("model2vec", ["model2vec[distill,train]"], False),
    "fasttext": RUNTIME_VENV,
    # textpruner pins numpy==1.21.1, which has no wheel for Python >= 3.11 (nor builds there): wheels only.
    # sentencepiece < 0.2.1: newer wheels' generated protobuf code needs a newer protobuf than slimnlp's.
    # transformers < 5: TextPruner calls PreTrainedModel.prune_heads, which transformers 5 removed.
    "textpruner": (
        "textpruner",
        ["textpruner", "sentencepiece<0.2.1", "transformers<5", "--only-binary", "numpy"],
        False,
    ),
}
PEER_PACKAGES = {
    "torch-pruning": ["torch-pruning"],
    "optimum": ["optimum", "optimum-onnx", "transformers"],
    "model2vec": ["model2vec", "transformers"],
    "fasttext": ["fasttext-wheel"],
    "textpruner": ["textpruner", "sentencepiece", "transformers"],
}


def _slimnlp() -> str:
    return shutil.which("slimnlp") or str(Path(sys.executable).parent / "slimnlp")


def export_model(args: argparse.Namespace, model_dir: Path, target: Path) -> Path:
    """A model directory in slimnlp's own ORT int8 (export-onnx), once."""
    if not (target / "model.int8.onnx").is_file():
        command = [
            _slimnlp(),
            "export-onnx",
            "--config",
            args.config,
            "--data",
            str(args.data),
            "--model",
            str(model_dir),
            "--out",
            str(target),
            *sum((["--set", s] for s in args.set), []),
        ]
        subprocess.run(command, check=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    return target


def zero_layer_dir(args: argparse.Namespace) -> Path | None:
    """The zero-layer NAS point to time beside the student: --zero-layer, else the one the run's
    prune step saved (prune_artifacts/pooled), else none."""
    if args.zero_layer is not None:
        return args.zero_layer.resolve()
    student_layout = Path(args.student or "", "slimnlp_layout.json")
    if args.student and student_layout.is_file() and "pooling" in student_layout.read_text(encoding="utf-8"):
        return None  # the student is the zero-layer point: its row is the student's
    found = newest("**/prune_artifacts/pooled", args.pruned) if args.pruned else None
    return found if found is not None and (found / "config.json").is_file() else None


def _onnx_variant(name: str, onnx_dir: Path, model_dir: Path, runtime: str = "onnx-int8") -> dict[str, Any]:
    return {
        "name": name,
        "runtime": runtime,
        "slimnlp_onnx": True,
        "path": str(onnx_dir / ("model.int8.onnx" if runtime == "onnx-int8" else "model.onnx")),
        "tokenizer_dir": str(onnx_dir),
        "model_dir": str(model_dir),
    }


def ratios(teacher: Path, student: Path | None, fallback: float) -> tuple[float, float]:
    """Fractions of heads and FFN units slimnlp's student removed (dropped layers count), else the
    config's prune.target_sparsity for both: also when the student is the zero-layer point (no
    head left: a head pruner cannot match it)."""
    layout = [Path(p, "slimnlp_layout.json") for p in (teacher, student) if p is not None]
    if len(layout) < 2 or not all(p.is_file() for p in layout):
        return fallback, fallback
    t, s = (json.loads(p.read_text(encoding="utf-8")) for p in layout)
    if not sum(s["heads_per_layer"]):
        return fallback, fallback
    return (
        1 - sum(s["heads_per_layer"]) / sum(t["heads_per_layer"]),
        1 - sum(s["intermediate_sizes"]) / sum(t["intermediate_sizes"]),
    )


def build_peer(name: str, args: argparse.Namespace, cfg, id2label: dict[int, str]) -> list[dict[str, Any]]:
    """Install (venv) and build one peer; its rows-to-be, each with its variant, or one with its error."""
    venv_name, requirements, constrained = PEERS[name]
    out = args.out / "models" / name
    row: dict[str, Any] = {"tool": name, "group": "peer"}
    try:
        python = ensure_venv(
            args.venvs, venv_name, requirements, args.venvs / f"{venv_name}.log", constrained
        )
    except (PeerInstallError, subprocess.SubprocessError, OSError) as err:
        return [row | {"error": f"install failed: {err}"}]
    installed = versions(args.venvs, venv_name)
    row["versions"] = {
        k: v for k, v in installed.items() if k.lower() in {p.lower() for p in PEER_PACKAGES[name]}
    }
    head, ffn = ratios(Path(args.teacher), args.student, cfg.prune.target_sparsity)
    request = {
        "teacher": str(args.teacher),
        "data": str(args.data),
        "out": str(out),
        "config": args.config,
        "id2label": {str(k): v for k, v in id2label.items()},
        "threads": cfg.benchmark.threads,
        "fasttext_autotune_s": args.fasttext_autotune_s,
        "slimnlp": _slimnlp(),
        "head_ratio": head,
        "ffn_ratio": ffn,
        "sets": sum((["--set", s] for s in args.set), []),
    }
    info_file = out / "peer.json"
    if not (args.reuse and info_file.is_file()):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        started = time.perf_counter()
        with (out / "build.log").open("w", encoding="utf-8") as log:
            done = subprocess.run(
                [str(python), str(HERE / "builders.py"), name, json.dumps(request)],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
                env=dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false"),
            )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            tail = (out / "build.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-6:]
            how = f"exit {done.returncode}"
            if done.returncode < 0:
                how = f"killed by signal {-done.returncode}" + (
                    " (SIGKILL: the out-of-memory killer?)" if done.returncode == -9 else ""
                )
            return [row | {"error": f"build failed ({how}): " + " / ".join(tail)}]
        info = json.loads(info_file.read_text(encoding="utf-8"))
        info["compression_s"] = seconds
        info_file.write_text(json.dumps(info, indent=2), encoding="utf-8")
    info = json.loads(info_file.read_text(encoding="utf-8"))
    variant = {
        "name": f"{name}-{info['runtime']}",
        "runtime": info["runtime"],
        "path": info["path"],
        "tokenizer_dir": info["tokenizer_dir"],
        "model_dir": info.get("model_dir", str(args.teacher)),
        "labels": info.get("labels"),
    }
    row |= {
        "name": variant["name"],
        "runtime": info["runtime"],
        "compression_s": info.get("compression_s"),
        "settings": info.get("settings"),
        "variants": [variant],
    }
    rows = [row]
    for extra in info.get("extra", []):  # a second point of the same tool (e.g. fastText quantized)
        more = variant | {"name": f"{variant['name']}-{extra['suffix']}", "path": extra["path"]}
        same = {k: v for k, v in row.items() if k != "variants"}
        rows.append(same | {"name": more["name"], "variants": [more]})
    return rows


def read_front(pruned: Path | None, batch_size: int) -> tuple[list[dict[str, Any]], str | None]:
    """The NAS front written by the prune step (dev accuracy, its own measured latency), if any."""
    path = newest("**/front.json", pruned) if pruned else None
    if path is None:
        return [], None
    front = json.loads(path.read_text(encoding="utf-8"))
    points = [
        {
            "arch": p["arch"],
            "accuracy": p["dev_accuracy"],
            "latency_ms": p.get(f"measured_ms_b{batch_size}") or p.get(f"predicted_ms_b{batch_size}"),
        }
        for p in front["points"]
    ]
    return [p for p in points if p["latency_ms"]], front.get("selected")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--config", required=True, help="the run config (benchmark and recovery settings come from it)"
    )
    p.add_argument(
        "--run", type=Path, help="a run directory: data, teacher, pruned, student, onnx found there"
    )
    p.add_argument("--data", type=Path, help="prepared data directory (prepare-data output)")
    p.add_argument("--teacher", type=Path, help="teacher model directory (train-teacher output)")
    p.add_argument("--student", type=Path, help="slimnlp's student (finetune-amp output)")
    p.add_argument(
        "--onnx", type=Path, help="slimnlp's student in ONNX (export-onnx output, model.int8.onnx)"
    )
    p.add_argument("--pruned", type=Path, help="prune output (its NAS front, if prune.method is nas)")
    p.add_argument(
        "--zero-layer",
        type=Path,
        help="a zero-layer NAS point (model directory) to time as its own slimnlp row; default: the "
        "prune step's prune_artifacts/pooled when it saved one (benchmarks/zero_layer.py builds one)",
    )
    p.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {', '.join(PEERS)}")
    p.add_argument("--out", type=Path, help="output directory (default runs/peers/<config name>)")
    p.add_argument("--venvs", type=Path, default=Path("runs/peers/venvs"), help="where the peers' venvs live")
    p.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (repeatable)")
    p.add_argument(
        "--fasttext-autotune-s", type=int, default=300, help="fastText autotune budget (its default, 300 s)"
    )
    p.add_argument("--reuse", action="store_true", help="reuse peers already built in --out")
    p.add_argument(
        "--slimnlp-compression-s",
        type=float,
        help="wall seconds of slimnlp's prune + distill + finetune-amp + export-onnx (default: the KFP run's records)",
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI to log the table, JSON and plot to")
    p.add_argument("--title", help="table and plot title (default: the config's name)")
    args = p.parse_args(argv)
    args.distilled = None  # the distill output, only for its wall time (found with --run)
    args.recovered = []  # NAS candidates recovered before the choice, only for their wall time
    if args.run:
        for name, path in find_run_dirs(args.run).items():
            if getattr(args, name) in (None, []):
                setattr(args, name, path)
    if args.data is None or args.teacher is None:
        p.error("pass --data and --teacher, or a --run directory that holds them")
    unknown = set(args.peers.split(",")) - set(PEERS)
    if unknown:
        p.error(f"unknown peers {sorted(unknown)}; choose from {', '.join(PEERS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from slimnlp.config import load_config
    from slimnlp.data import read_label_map

    args = parse(argv)
    cfg = load_config(args.config, args.set)
    args.out = (args.out or Path("runs/peers") / cfg.name).resolve()
    args.venvs = args.venvs.resolve()
    args.data, args.teacher = args.data.resolve(), args.teacher.resolve()
    id2label = read_label_map(args.data)
    batch = 32 if 32 in cfg.benchmark.batch_sizes else max(cfg.benchmark.batch_sizes)
    teacher_onnx = export_model(args, args.teacher, args.out / "slimnlp-teacher-onnx")
    variants = [_onnx_variant("slimnlp-teacher-int8", teacher_onnx, args.teacher)]
    rows: list[dict[str, Any]] = [
        {
            "tool": "slimnlp",
            "group": "slimnlp",
            "name": "slimnlp-teacher-int8",
            "runtime": "onnx-int8",
            "compression_s": step_wall_s(teacher_onnx),
        }
    ]
    if args.onnx and (args.onnx / "model.int8.onnx").is_file():
        variants.append(_onnx_variant("slimnlp-student-int8", args.onnx, args.student or args.onnx))
        walls = [
            step_wall_s(d) for d in (args.pruned, args.distilled, *args.recovered, args.student, args.onnx)
        ]
        rows.append(
            {
                "tool": "slimnlp",
                "group": "slimnlp",
                "name": "slimnlp-student-int8",
                "runtime": "onnx-int8",
                "compression_s": args.slimnlp_compression_s or sum(w for w in walls if w) or None,
            }
        )
    zero = zero_layer_dir(args)
    if zero is not None:  # the NAS space's zero-layer point (prune.nas.pooled_point), in its own row
        zero_onnx = export_model(args, zero, args.out / "slimnlp-zero-layer-onnx")
        # Both ORT files: with no encoder layer there are no int8 matmuls to gain from, and the int8
        # file dequantises every embedding it gathers, so fp32 can be the point's fastest runtime. One
        # intra-op thread, as Model2Vec's BLAS: a gather, a mean and one small matmul only wait for a
        # second thread (2026-12-07, SHC, batch 32: 0.42 ms at 1 thread with 1% round spread, 0.41 ms
        # at 2 with 136%).
        for runtime, suffix in (("onnx-int8", "int8"), ("onnx", "fp32")):
            variant = _onnx_variant(f"slimnlp-zero-layer-{suffix}", zero_onnx, zero, runtime)
            variants.append(variant | {"threads": ZERO_LAYER_THREADS})
            rows.append(
                {
                    "tool": "slimnlp",
                    "group": "slimnlp",
                    "name": f"slimnlp-zero-layer-{suffix}",
                    "runtime": f"{runtime}, {ZERO_LAYER_THREADS} thread",
                    "compression_s": step_wall_s(zero),
                }
            )
    for name in args.peers.split(","):
        print(f"peers: building {name}", flush=True)
        built = build_peer(name, args, cfg, id2label)
        print(f"peers: {name}: {built[0].get('error') or 'built'}", flush=True)
        for row in built:
            variants.extend(row.pop("variants", []))
            rows.append(row)
    try:
        runtime_python = ensure_venv(
            args.venvs, *RUNTIME_VENV[:2], args.venvs / "runtime.log", RUNTIME_VENV[2]
        )
    except PeerInstallError:
        runtime_python = Path(sys.executable)
    bench = asdict(cfg.benchmark)
    request = {"variants": variants, "data": str(args.data), "benchmark": bench}
    (args.out / "measure_request.json").write_text(json.dumps(request, indent=2), encoding="utf-8")
    subprocess.run(
        [
            str(runtime_python),
            str(HERE / "measure.py"),
            str(args.out / "measure_request.json"),
            str(args.out / "measurements.json"),
        ],
        check=True,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    measured = json.loads((args.out / "measurements.json").read_text(encoding="utf-8"))
    key = f"latency_b{batch}_p50_ms"
    points = {}
    for row in rows:
        if row.get("name") in measured["rows"]:
            row |= measured["rows"][row["name"]]
            samples = measured["latency_samples_ms"][row["name"]][str(batch)]
            row["latency_spread"] = round_spread(samples, measured["rounds"])
            points[row["name"]] = Point(row["name"], row["accuracy"], row[key], row["latency_spread"])
    ours = [points[r["name"]] for r in rows if r["group"] == "slimnlp" and r["name"] in points]
    theirs = [points[r["name"]] for r in rows if r["group"] == "peer" and r.get("name") in points]
    front, selected = read_front(args.pruned, batch)
    env = measured["environment"]
    result = {
        "title": args.title or f"{cfg.name}: slimnlp and its peers",
        "batch_size": batch,
        "rows": rows,
        "front": front,
        "selected": selected,
        "comparisons": compare_all(ours, theirs, measured["n_texts"]) if ours else [],
        "environment": env,
        "benchmark": bench,
        "n_texts": measured["n_texts"],
        "inputs": {
            k: str(getattr(args, k)) for k in ("config", "data", "teacher", "student", "onnx", "pruned")
        },
        "notes": [
            f"{measured['n_texts']} test texts; {bench['rounds']} interleaved rounds x {bench['iterations']} calls, "
            f"{bench['threads']} threads, sequence length {bench['sequence_length']}; {env['cpu_model']}, "
            f"load average {env['load_average_1m']:.1f} on {env['cpus_available']} CPUs.",
            "Noise: latency = the larger round spread of the two points compared (as the promotion gate); "
            "accuracy = 1.96 standard errors of the difference.",
        ],
    }
    files = write_outputs(result, args.out)
    print((args.out / "peers.md").read_text(encoding="utf-8"))
    if args.tracking_uri:
        print(f"MLflow run {log_to_mlflow(files, result, args.tracking_uri, 'slimnlp-peers')}")
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
