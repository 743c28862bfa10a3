"""The latency side of prune.nas on the CPU teacher's shape: the table, its error, and which shapes reach
the issue-15 speed-ups (>= 3x at batch 32, >= 2x at batch 1 in ORT int8).

    .venv/bin/python benchmarks/nas_latency.py --model runs/pretrain-cache/<key>/model --data runs/<run>/data

Latency does not depend on what the weights learned, so this needs no fine-tuned teacher: the
MLM-pretrained encoder gets a fresh 12-label head, and every shape below is sliced from it, exported and
timed exactly as the nas pruner does (slimnlp.prune.nas.latency: the table from probe models, then each
shape end to end, interleaved with the full shape in the same rounds). Writes nas_latency.{json,md} to --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

from slimnlp.config import load_config
from slimnlp.data import load_splits
from slimnlp.prune.nas.latency import LatencyTarget, build_runner, measure_latency_table, time_runners
from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from slimnlp.prune.nas.supernet import slice_subnetwork

# Uniform shapes (the SMALL space) and shapes with dropped layers (LAYER / LARGE), teacher first.
SHAPES = [
    "4x1024|4x1024|4x1024|4x1024",
    "4x512|4x512|4x512|4x512",
    "2x512|2x512|2x512|2x512",
    "2x256|2x256|2x256|2x256",
    "1x128|1x128|1x128|1x128",
    "-|4x1024|4x1024|4x1024",
    "-|-|4x1024|4x1024",
    "-|-|4x512|4x512",
    "-|-|2x256|2x256",
    "-|-|-|4x1024",
    "-|-|-|1x64",
]


def _model(model_dir: Path, labels: int, length: int):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=labels).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), model_max_length=length)
    return model, tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="an MLM-pretrained (or any) model dir")
    parser.add_argument("--data", type=Path, required=True, help="a prepare-data output (dev texts)")
    parser.add_argument("--config", default="configs/nas-shc.yaml")
    parser.add_argument("--out", type=Path, default=Path("runs/nas-latency"))
    args = parser.parse_args()
    cfg = load_config(args.config)
    bench, nas = cfg.benchmark, cfg.prune.nas
    _, dev, _, id2label = load_splits(args.data)
    model, tokenizer = _model(args.model, len(id2label), bench.sequence_length)
    space = SearchSpace.of_model(4, 4, 1024, nas, cfg.prune.min_heads_per_layer)
    target = LatencyTarget(
        runtime=nas.latency_runtime,
        threads=bench.threads,
        batch_sizes=tuple(bench.batch_sizes),
        sequence_length=bench.sequence_length,
        rounds=nas.latency_rounds,
        iterations=nas.latency_iterations,
        export=cfg.export,
        unit_probes=nas.latency_unit_probes,
    )
    seconds = {}
    start = time.perf_counter()
    table = measure_latency_table(model, tokenizer, space, dev[0], target)
    seconds["latency_table"] = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nas-latency-") as tmp:
        runners, sizes = {}, {}
        for key in SHAPES:
            sliced = slice_subnetwork(copy.deepcopy(model), SubNetwork.from_key(key))
            runners[key], sizes[key] = build_runner(
                sliced, tokenizer, target, Path(tmp), f"s{len(runners)}", dev[0]
            )
        medians = time_runners(runners, dev[0], target, progress=True)
    seconds["end_to_end_checks"] = time.perf_counter() - start
    rows = []
    for key in SHAPES:
        row = {"arch": key, "size_bytes": sizes[key]}
        for b in target.batch_sizes:
            predicted = table.predict(SubNetwork.from_key(key), b)
            row |= {
                f"measured_ms_b{b}": medians[b][key],
                f"predicted_ms_b{b}": predicted,
                f"speedup_b{b}": medians[b][SHAPES[0]] / medians[b][key],
                f"error_b{b}": predicted / medians[b][key] - 1,
            }
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    table.save(args.out / "latency_table.json")
    result = {"rows": rows, "seconds": seconds, "target": {**target.__dict__, "export": None}}
    (args.out / "nas_latency.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    batches = target.batch_sizes
    head = ["shape", "size MB"] + [
        f"b{b} {n}" for b in batches for n in ("ms", "predicted", "error", "speed-up")
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"`{r['arch']}`", f"{r['size_bytes'] / 1e6:.2f}"]
        for b in batches:
            cells += [
                f"{r[f'measured_ms_b{b}']:.2f}",
                f"{r[f'predicted_ms_b{b}']:.2f}",
                f"{r[f'error_b{b}']:+.0%}",
                f"{r[f'speedup_b{b}']:.2f}x",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"\nstage seconds: {', '.join(f'{k} {v:.0f}' for k, v in seconds.items())}")
    (args.out / "nas_latency.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
