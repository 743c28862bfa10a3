"""2:4 sparsity on CUDA: the same model timed dense (fp16) and with PyTorch's semi-structured sparse
kernels (cuSPARSELt / CUTLASS), in interleaved rounds. Needs an NVIDIA GPU of compute capability >= 8.0;
anywhere else it prints why and exits 2 (a 2:4 model on CPU runs at dense speed).

    .venv/bin/python benchmarks/sparse24_cuda.py                         # SHC CPU-preset and BERT-base shapes
    .venv/bin/python benchmarks/sparse24_cuda.py --model runs/x/student  # a pruned model directory
    make sparse24-cuda

A model that does not hold a 2:4 pattern yet (and every random-weight shape) is pruned 2:4 by magnitude
first: speed does not depend on which weights were kept. Figures: ms per batch (median of all calls),
speed-up = median over rounds of dense / sparse in the same round, the largest |logit| difference and
the share of equal predictions. Writes sparse24.{json,md} to --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from slimnlp.models import build_bert, encoder_layers, load_model_dir
from slimnlp.prune.oneshot.masks import holds_n_m
from slimnlp.prune.oneshot.unstructured import layer_linears, magnitude_2of4
from slimnlp.runtime.sparse24 import SparseReport, to_semi_structured, unavailable_reason
from slimnlp.runtime.timing import interleaved_rounds

# layers x hidden x FFN: the SHC CPU-preset teacher and BERT-base (MuRIL / MahaBERT).
SHAPES = {"cpu-preset": (4, 256, 1024), "bert-base": (12, 768, 3072)}


def random_bert(layers: int, hidden: int, ffn: int) -> torch.nn.Module:
    labels = {i: f"label{i}" for i in range(12)}
    return build_bert(
        32000,
        12,
        labels,
        num_layers=layers,
        hidden_size=hidden,
        num_heads=max(1, hidden // 64),
        intermediate_size=ffn,
        max_length=512,
    ).eval()


def ensure_2of4(model: torch.nn.Module) -> bool:
    """Prune every encoder matrix 2:4 by magnitude unless all already hold it; True when pruned here."""
    linears = [linear for layer in encoder_layers(model) for linear in layer_linears(layer).values()]
    if all(holds_n_m(linear.weight, 2, 4) for linear in linears):
        return False
    magnitude_2of4(model)
    return True


def dense_and_sparse(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module, SparseReport]:
    """The model in fp16 on CUDA, and a copy of it on the 2:4 kernels (converted once per model)."""
    dense = model.to("cuda", torch.float16)
    sparse = copy.deepcopy(dense)
    return dense, sparse, to_semi_structured(sparse)


def compare(
    name: str,
    dense: torch.nn.Module,
    sparse: torch.nn.Module,
    report: SparseReport,
    batch: int,
    length: int,
    rounds: int,
    calls: int,
) -> dict[str, Any]:
    ids = torch.randint(1000, 30000, (batch, length), device="cuda")
    feed = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def call(m):
        def run():
            with torch.inference_mode():
                out = m(**feed).logits
            torch.cuda.synchronize()
            return out

        return run

    with torch.inference_mode():
        a, b = dense(**feed).logits.float(), sparse(**feed).logits.float()
    samples = interleaved_rounds({"dense": call(dense), "sparse": call(sparse)}, rounds, calls, warmup=5)
    ratios = [
        statistics.median(samples["dense"][r * calls : (r + 1) * calls])
        / statistics.median(samples["sparse"][r * calls : (r + 1) * calls])
        for r in range(rounds)
    ]
    return {
        "model": name,
        "batch": batch,
        "length": length,
        "backend": report.backend,
        "linears_sparse": len(report.converted),
        "linears_dense": len(report.dense),
        "dense_ms": statistics.median(samples["dense"]),
        "sparse_ms": statistics.median(samples["sparse"]),
        "speedup": statistics.median(ratios),
        "max_abs_logit_diff": float((a - b).abs().max()),
        "same_prediction": float((a.argmax(-1) == b.argmax(-1)).float().mean()),
    }


def markdown(rows: list[dict[str, Any]], device: str) -> str:
    lines = [
        f"# 2:4 semi-structured sparsity on CUDA ({device}, fp16, torch {torch.__version__})",
        "",
        "| model | batch x tokens | backend | sparse / dense Linears | dense ms | 2:4 ms | speed-up | max abs logit diff | same prediction |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['batch']} x {r['length']} | {r['backend']} | {r['linears_sparse']} / "
            f"{r['linears_dense']} | {r['dense_ms']:.3f} | {r['sparse_ms']:.3f} | {r['speedup']:.2f}x | "
            f"{r['max_abs_logit_diff']:.4f} | {r['same_prediction']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, action="append", default=[], help="model directories (repeatable)"
    )
    parser.add_argument(
        "--shapes", default="cpu-preset,bert-base", help="random-weight shapes: " + ",".join(SHAPES)
    )
    parser.add_argument("--points", default="1x128,32x128,128x128", help="batch x tokens")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("runs/sparse24"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    reason = unavailable_reason()
    if reason is not None:
        (args.out / "sparse24.json").write_text(json.dumps({"measured": False, "reason": reason}, indent=2))
        print(f"2:4 on CUDA not measured: {reason}", file=sys.stderr)
        return 2
    models: dict[str, Any] = {}
    for folder in args.model:
        models[folder.name] = lambda folder=folder: load_model_dir(folder)[0]
    for shape in filter(None, args.shapes.split(",")):
        models[shape] = lambda shape=shape: random_bert(*SHAPES[shape])
    rows = []
    for name, build in models.items():
        torch.manual_seed(0)
        model = build()
        if ensure_2of4(model):
            print(f"{name}: pruned 2:4 by magnitude (it held no 2:4 pattern)")
        dense, sparse, report = dense_and_sparse(model)
        for point in args.points.split(","):
            batch, length = (int(v) for v in point.split("x"))
            rows.append(compare(name, dense, sparse, report, batch, length, args.rounds, args.calls))
            print(json.dumps(rows[-1]), flush=True)
    device = torch.cuda.get_device_name()
    (args.out / "sparse24.json").write_text(
        json.dumps({"measured": True, "device": device, "rows": rows}, indent=2)
    )
    (args.out / "sparse24.md").write_text(markdown(rows, device))
    print(markdown(rows, device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
