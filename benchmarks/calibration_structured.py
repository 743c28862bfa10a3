"""The structured half of the calibration study: one-shot heads/neurons removal beside importance
pruning at the same FLOPs, accuracy without and with a one-epoch KD recovery, ONNX int8 speed-up.

Run by benchmarks/calibration_study.py (`--structured 25,50`); block movement at the same speed: its
prune step's outputs (prune.method=block_movement trains, with KD) passed as `--models NAME=DIR`
are scored and timed in the same rounds.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from slimnlp import models
from slimnlp.config import ExportConfig, config_from_dict
from slimnlp.prune import PruneContext, get_pruner
from slimnlp.training.batches import evaluate


def _prune_and_save(args, env, method: str, cut: int, sources: list[str], out: Path) -> dict[str, Any]:
    model, tokenizer = models.load_model_dir(args.teacher)
    values: dict[str, Any] = {"method": method, "target_sparsity": cut / 100}
    values["calibration"] = {"sources": sources, "samples": args.samples}
    config = config_from_dict({"prune": values}).prune
    context = PruneContext(config=config, max_length=env["max_length"], seed=args.seed, progress=False)
    started = time.perf_counter()
    report = get_pruner(method).prune(model, tokenizer, env["train"], env["dev"], context)
    seconds = time.perf_counter() - started
    row = {"accuracy": evaluate(model, tokenizer, *env["test"], env["max_length"])["accuracy"]}
    row |= {"prune_seconds": seconds, "heads": report.heads_per_layer_after}
    row |= {"neurons": report.neurons_per_layer_after, "flops_reduction": flops_cut(args.teacher, model)}
    models.save_model_dir(model, tokenizer, out / "oneshot")
    row |= env["recover"](args, env, model, tokenizer)
    models.save_model_dir(model, tokenizer, out / "recovered")
    return row


def flops_cut(teacher_dir: Path, model) -> float:
    from slimnlp.benchmark.facts import encoder_flops

    teacher, _ = models.load_model_dir(teacher_dir)
    return 1 - encoder_flops(model, 48) / encoder_flops(teacher, 48)


def _int8(model_dir: Path, env, out: Path | None = None) -> Path:
    from slimnlp.export.onnx import export_onnx_model

    out = out or model_dir.parent / f"{model_dir.name}-onnx"
    if not (out / "model.int8.onnx").is_file():
        texts, labels = env["test"]
        export_onnx_model(model_dir, out, texts, ExportConfig(quantize_int8=True), labels, env["max_length"])
    found = sorted(out.glob("*int8*.onnx"))
    if not found:
        raise FileNotFoundError(f"no int8 ONNX model under {out}")
    return found[0]


def interleaved_latency(variants: dict[str, Path], env, rounds: int = 7, calls: int = 20) -> dict[str, dict]:
    """p50 ms per call at batch 1 and 32 (sequence length 48), variants interleaved in every round;
    speed-up = median over rounds of the teacher's time / the variant's time in the same round."""
    from slimnlp.runtime.onnx import OnnxRunner

    texts = env["test"][0]
    runners = {
        name: OnnxRunner(path, path.parent, threads=2, max_length=48) for name, path in variants.items()
    }
    result: dict[str, dict] = {name: {} for name in variants}
    for batch in (1, 32):
        feeds = {n: r.encode(texts[:batch], pad_to=48) for n, r in runners.items()}
        times: dict[str, list[float]] = {n: [] for n in variants}
        for n, r in runners.items():  # warm-up
            r.run(feeds[n])
        for _ in range(rounds):
            for n, r in runners.items():
                started = time.perf_counter()
                for _ in range(calls):
                    r.run(feeds[n])
                times[n].append((time.perf_counter() - started) / calls * 1000)
        for n in variants:
            ratios = [t / v for t, v in zip(times["teacher"], times[n], strict=True)]
            result[n][f"int8_b{batch}_p50_ms"] = statistics.median(times[n])
            result[n][f"int8_speedup_b{batch}"] = statistics.median(ratios)
    return result


def structured_rows(args, env) -> list[dict[str, Any]]:
    cached = env["cached"]
    cuts = [int(c) for c in args.structured.split(",") if c]
    rows, variants = [], {"teacher": _int8(Path(args.teacher), env)}
    for cut in cuts:
        for method in ("structured_oneshot", "importance"):
            name = f"{method}-{cut}"
            folder = args.out / "models" / name
            row = {"method": method, "cut": cut}
            row |= cached(
                args.out, f"struct-{name}", _prune_and_save, args, env, method, cut, ["train"], folder
            )
            rows.append(row)
            variants[f"{name}"] = _int8(folder / "oneshot", env)
            variants[f"{name}+kd"] = _int8(folder / "recovered", env)
    for name, folder in args.models.items():  # trained students (block movement) beside
        model, tokenizer = models.load_model_dir(folder)
        accuracy = evaluate(model, tokenizer, *env["test"], env["max_length"])["accuracy"]
        rows.append({"method": name, "cut": None, "accuracy": accuracy, "dir": str(folder)})
        variants[name] = _int8(Path(folder), env, Path(args.out) / "models" / f"{name}-onnx")
    speed = interleaved_latency(variants, env)
    for row in rows:
        if row["cut"] is None:
            row |= speed[row["method"]]
            continue
        name = f"{row['method']}-{row['cut']}"
        row |= {f"{k}": v for k, v in speed[name].items()}
        row |= {f"recovered_{k}": v for k, v in speed[f"{name}+kd"].items()}
    return [{"method": "teacher", "cut": 0, **speed["teacher"]}, *rows]
