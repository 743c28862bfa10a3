"""Scale benchmark: a BERT-base teacher with a MuRIL-size vocabulary, and its compressed shapes, on this machine.

    make scale                                   # ~30 min on 2 shared cores
    .venv/bin/python benchmarks/scale.py --out runs/scale --shapes teacher,l4-s50 --rounds 1

RANDOM WEIGHTS: every model is built from a config (no hub here), so the figures are speed, size
and memory only; no accuracy is claimed. What it measures (results in <out>/scale.json and scale.md):
1. The teacher at 197,285 tokens (MuRIL's vocabulary; about 238M parameters): size on disk, and
   wall time and peak memory (each in a fresh process) of the export-onnx step (dynamo export,
   parity, fused candidate, int8, keep-the-faster) and of one training epoch, per 1,000 texts.
2. Model size at the vocabularies fast vocabulary transfer targets (197k -> 32k, 16k).
3. ONNX Runtime latency of every shape, fp32 and int8, plain and fused: batch 1 and 32 at 128 and
   256 tokens, and batch 32 of real test texts with dynamic padding, all variants interleaved
   round-robin in one process. Latency models use the tokenizer's own small vocabulary: the embedding
   lookup costs the same per token whatever the vocabulary size.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

SHC = Path(__file__).resolve().parents[2] / "shared" / "data" / "mahanews-shc"
MURIL_VOCAB = 197_285
# name: (layers, hidden, heads, ffn); heads are 64 wide, as in BERT-base
SHAPES = {
    "teacher": (12, 768, 12, 3072),
    "s25": (12, 768, 9, 2304),  # 25% of heads and FFN units removed in every layer
    "s50": (12, 768, 6, 1536),
    "s75": (12, 768, 3, 768),
    "l6": (6, 768, 12, 3072),  # 6-layer student
    "l4": (4, 768, 12, 3072),
    "l6-h384": (6, 384, 6, 1536),  # reduced hidden size
    "l4-s50": (4, 768, 6, 1536),  # 4 layers and 50% structured
}


def texts_and_labels(n: int) -> tuple[list[str], list[str]]:
    import csv

    path = SHC / "SHC_Test.csv"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: the scale benchmark needs ../shared/data/mahanews-shc")
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [r["Text"] for r in rows], [r["Label"] for r in rows]


def isolated(fn, *args) -> tuple[Any, float, float]:
    """(result, wall s, peak RSS GiB) of fn(*args) in a fresh process."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        start = time.perf_counter()
        result, peak_kib = pool.submit(_with_peak, fn, *args).result()
        return result, time.perf_counter() - start, peak_kib / 2**20


def _with_peak(fn, *args):
    result = fn(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --------------------------------------------------------------------------------------------------
# Building shapes


def build_shape(name: str, vocab: int, out: Path, tokenizer_texts: list[str]) -> dict[str, Any]:
    """Build a shape (random weights, structurally sliced like the pruners do) and save it."""
    import torch

    from slimnlp.models import (
        build_bert,
        dir_size_bytes,
        encoder_layers,
        keep_heads,
        keep_neurons,
        save_model_dir,
        train_wordpiece,
    )

    layers, hidden, heads, ffn = SHAPES[name]
    tokenizer = train_wordpiece(tokenizer_texts, vocab_size=8000, max_length=512)
    torch.manual_seed(0)
    full = 12 if hidden == 768 else heads
    model = build_bert(max(vocab, len(tokenizer)), 8, {i: f"l{i}" for i in range(8)}, num_layers=layers,
                       hidden_size=hidden, num_heads=full, intermediate_size=3072 if hidden == 768 else ffn,
                       max_length=512)  # fmt: skip
    for layer in encoder_layers(model):
        if heads < full:
            keep_heads(layer, list(range(heads)), hidden // full)
        if ffn < layer.intermediate.dense.out_features:
            keep_neurons(layer, list(range(ffn)))
    model.eval()
    save_model_dir(model, tokenizer, out)
    params = sum(p.numel() for p in model.parameters())
    embeddings = model.bert.embeddings.word_embeddings.weight.numel()
    return {"params": params, "params_non_embedding": params - embeddings, "dir_bytes": dir_size_bytes(out)}


def export_step(model_dir: Path, out: Path, texts: list[str]) -> dict[str, Any]:
    from slimnlp.config import ExportConfig
    from slimnlp.export.onnx import export_onnx_model

    metrics = export_onnx_model(model_dir, out, texts, ExportConfig(parity_samples=8), max_length=128)
    return {k: v for k, v in metrics.items() if not isinstance(v, dict)}


def train_epoch(model_dir: Path, texts: list[str], labels: list[int]) -> dict[str, Any]:
    from slimnlp.models import load_model_dir
    from slimnlp.training.loop import LoopSettings, train_classifier

    model, tokenizer = load_model_dir(model_dir)
    settings = LoopSettings(epochs=1, batch_size=16, learning_rate=2e-5, max_length=128)
    start = time.perf_counter()
    train_classifier(model, tokenizer, (texts, labels), (texts[:16], labels[:16]), settings, progress=False)
    return {"epoch_s": time.perf_counter() - start, "texts": len(texts)}


def latency_files(model_dir: Path, out: Path, texts: list[str]) -> dict[str, str]:
    """fp32 plain (dynamo), fp32 fused, and int8 of both: the four files export-onnx chooses from."""
    from slimnlp.export.fusion import export_fused
    from slimnlp.export.graph import export_fp32, quantize_int8
    from slimnlp.models import load_model_dir

    model, tokenizer = load_model_dir(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    files = {k: out / f"{k}.onnx" for k in ("fp32", "fp32-fused", "int8", "int8-fused")}
    export_fp32(model, tokenizer, texts, files["fp32"], 18, 128, False)
    export_fused(model, tokenizer, texts, files["fp32-fused"], 18, 128)
    quantize_int8(files["fp32"], files["int8"], False)
    quantize_int8(files["fp32-fused"], files["int8-fused"], False)
    return {k: str(v) for k, v in files.items()}


# --------------------------------------------------------------------------------------------------
# Latency, every variant interleaved


def parse_points(spec: str) -> list[tuple[int, int | None]]:
    """ "1@128,32@real" -> [(1, 128), (32, None)]."""
    points = []
    for item in spec.split(","):
        batch, _, tokens = item.partition("@")
        points.append((int(batch), None if tokens == "real" else int(tokens)))
    return points


def time_variants(
    files: dict[str, dict[str, str]], texts: list[str], rounds: int, threads: int, points: list, kinds: list
) -> dict:
    """Median ms per (shape, runtime, point); all sessions loaded at once, interleaved per point."""
    import numpy as np
    from tqdm.auto import tqdm

    from slimnlp.runtime.onnx import OnnxRunner
    from slimnlp.runtime.timing import interleaved_rounds

    runners = {
        (shape, kind): OnnxRunner(path, Path(path).parent, threads=threads, max_length=512, spinning=False)
        for shape, paths in files.items()
        for kind, path in paths.items()
        if kind in kinds
    }
    table: dict[str, dict[str, dict[str, float]]] = {}
    for batch, tokens in tqdm(points, desc="latency points"):
        point = f"b{batch}@{tokens or 'real'}"
        chosen = runners
        batch_texts = [texts[i % len(texts)] for i in range(batch)]
        calls = {}
        for key, runner in chosen.items():
            feed = runner.encode(batch_texts, pad_to=tokens)
            calls[f"{key[0]}|{key[1]}"] = lambda runner=runner, feed=feed: runner.run(feed)
        samples = interleaved_rounds(calls, rounds, 3 if batch == 1 else 1, 1)
        for name, ms in samples.items():
            shape, kind = name.split("|")
            table.setdefault(shape, {}).setdefault(kind, {})[point] = float(np.median(ms))
    return table


def markdown(results: dict[str, Any]) -> str:
    lat, teacher = results["latency_ms"], results["latency_ms"]["teacher"]
    points = list(next(iter(teacher.values())))
    lines = ["| shape | non-emb. params | runtime | " + " | ".join(points) + " |",
             "|---|---:|---|" + "---:|" * len(points)]  # fmt: skip
    for shape, kinds in lat.items():
        for kind, row in kinds.items():
            cells = []
            for p in points:
                if p not in row:
                    cells.append("")
                    continue
                cells.append(f"{row[p]:.1f} ms ({teacher[kind][p] / row[p]:.2f}x)")
            params = results["shapes"][shape]["params_non_embedding"] / 1e6
            lines.append(f"| {shape} | {params:.1f}M | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/scale")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-texts", type=int, default=64)
    parser.add_argument("--skip-teacher-steps", action="store_true")
    parser.add_argument(
        "--points", default="1@128,32@128,32@real,1@256,32@256", help="batch@tokens (real: test texts)"
    )
    parser.add_argument("--runtimes", default="fp32,fp32-fused,int8,int8-fused")
    parser.add_argument(
        "--save-teacher",
        metavar="DIR",
        help="only build the 197k teacher's model dir there (for slimnlp run)",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    texts, names = texts_and_labels(600)
    if args.save_teacher:
        facts = build_shape("teacher", MURIL_VOCAB, Path(args.save_teacher), texts)
        print(f"RANDOM WEIGHTS: {facts['params'] / 1e6:.1f}M parameters saved in {args.save_teacher}")
        return
    labels = [sorted(set(names)).index(n) for n in names]
    print("RANDOM WEIGHTS: speed, size and memory only; no accuracy is claimed.", flush=True)
    results: dict[str, Any] = {"random_weights": True, "steps": {}, "shapes": {}, "vocab_sizes": {}}
    if not args.skip_teacher_steps:  # 1. the 197k teacher's steps, each in a fresh process
        teacher = out / "teacher-197k"
        facts, wall, peak = isolated(build_shape, "teacher", MURIL_VOCAB, teacher, texts)
        results["steps"]["build+save"] = {"wall_s": wall, "peak_gib": peak, **facts}
        metrics, wall, peak = isolated(export_step, teacher, out / "teacher-197k-onnx", texts[:64])
        results["steps"]["export-onnx"] = {"wall_s": wall, "peak_gib": peak, **metrics}
        n = args.train_texts
        epoch, wall, peak = isolated(train_epoch, teacher, texts[:n], labels[:n])
        per_1000 = epoch["epoch_s"] * 1000 / n
        results["steps"]["train epoch"] = {"wall_s": wall, "peak_gib": peak, "per_1000_texts_s": per_1000}
        print(json.dumps(results["steps"], indent=1, default=str), flush=True)
    for vocab in (MURIL_VOCAB, 32_000, 16_000):  # 2. size at each vocabulary (teacher shape)
        results["vocab_sizes"][vocab] = 4 * (vocab * 768) / 2**20  # fp32 MiB of the embedding matrix
    files = {}
    for shape in args.shapes.split(","):  # 3. latency shapes
        facts, _, _ = isolated(build_shape, shape, 0, out / shape, texts)
        made, wall, peak = isolated(latency_files, out / shape, out / f"{shape}-onnx", texts[:8])
        results["shapes"][shape] = {**facts, "export_wall_s": wall, "export_peak_gib": peak}
        results["shapes"][shape]["onnx_bytes"] = {k: Path(v).stat().st_size for k, v in made.items()}
        files[shape] = made
        print(f"{shape}: {facts['params'] / 1e6:.1f}M params, exported in {wall:.0f} s", flush=True)
    points, kinds = parse_points(args.points), args.runtimes.split(",")
    results["latency_ms"] = time_variants(files, texts, args.rounds, args.threads, points, kinds)
    (out / "scale.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    (out / "scale.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main()
