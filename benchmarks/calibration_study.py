"""Which language to calibrate one-shot pruning in (issue 16; Kurz et al. 2024 for encoders).

    make calibration-study     # = the command below on the SHC CPU-preset teacher
    python benchmarks/calibration_study.py --config configs/pretrain-cpu.yaml \
        --data runs/mahanews-shc-pretrain-cpu/data --teacher runs/calibration-study/teacher \
        --mlm runs/mahanews-shc-pretrain-cpu/pretrained --out runs/calibration-study [--recover all]

Cells: calibration source {SHC train text, Marathi corpus, Hindi corpus, half-half Marathi+Hindi} x
method {magnitude, wanda, sparsegpt} x {50, 60, 70% unstructured, 2:4}. Each cell prunes the
fine-tuned teacher (test accuracy, seconds to prune) and the MLM model it was fine-tuned from
(held-out Marathi masked-LM perplexity: the 1,000 sentences pretraining held out, which the Marathi
calibration texts never include). `--recover` adds a one-epoch KD recovery that keeps the zeros
(`slimnlp.prune.oneshot.recovery`): `all`, or cells by pattern, e.g. `train/*/50,train/*/2:4`.
Magnitude reads no calibration: one cell per level. Then structured one-shot at 25% and 50% fewer
FLOPs beside importance pruning at the same FLOPs, exported to ONNX int8 and timed against the teacher.
Every cell is cached in OUT/cells/*.json: rerunning fills only the missing ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import torch
from calibration_report import write_report  # benchmarks/, beside this script
from calibration_structured import structured_rows

from slimnlp import models
from slimnlp.config import config_from_dict, load_config
from slimnlp.data import read_label_map, read_split
from slimnlp.data.corpus import read_corpus
from slimnlp.prune import PruneContext, get_pruner
from slimnlp.training.batches import evaluate

CORPUS = Path("../shared/data/corpus")
LEVELS = ["50", "60", "70", "2:4"]
METHODS = ["magnitude", "wanda", "sparsegpt"]
SOURCES = ["train", "marathi", "hindi", "mix"]


# --------------------------------------------------------------------------------------------------
# Calibration files and the held-out Marathi sentences


def prepare_corpora(out: Path, seed: int, eval_sentences: int) -> tuple[dict[str, list[str]], list[str]]:
    """(calibration sources by name, held-out Marathi sentences). The held-out split is the one
    pretrain-mlm made (the same shuffle of the same file), and the Marathi calibration file is the
    rest, so perplexity is never measured on calibration text."""
    marathi = read_corpus([str(CORPUS / "marathi.txt")])
    pool = list(marathi)
    random.Random(seed).shuffle(pool)
    n_eval = min(eval_sentences, len(pool) // 10)
    heldout, rest = pool[:n_eval], pool[n_eval:]
    folder = out / "calibration"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "marathi-train.txt").write_text("\n".join(rest) + "\n", encoding="utf-8")
    hindi = str(CORPUS / "hindi.txt")
    mr = str(folder / "marathi-train.txt")
    return {"train": ["train"], "marathi": [mr], "hindi": [hindi], "mix": [mr, hindi]}, heldout


def _config(method: str, level: str, sources: list[str], samples: int):
    section = {"pattern": level} if ":" in level else {}
    sparsity = 0.5 if ":" in level else int(level) / 100
    values = {"method": method, "target_sparsity": sparsity, method: section}
    values["calibration"] = {"sources": sources, "samples": samples}
    return config_from_dict({"prune": values}).prune


# --------------------------------------------------------------------------------------------------
# One cell: prune the classifier and the MLM model the same way


def _prune(model, tokenizer, train_texts, config, max_length: int, seed: int) -> dict[str, Any]:
    context = PruneContext(config=config, max_length=max_length, seed=seed, progress=False)
    report = get_pruner(config.method).prune(model, tokenizer, (train_texts, []), ([], []), context)
    return report.metrics()


def perplexity(model, tokenizer, texts: list[str], max_length: int, seed: int) -> float:
    from slimnlp.pretrain.mlm import _eval_batches, heldout_loss, mlm_collator

    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    batches = _eval_batches(mlm_collator(tokenizer), ids, 64, seed)  # the same masks in every cell
    return math.exp(heldout_loss(model, batches, "cpu"))


def classifier_cell(args, env: dict[str, Any], method: str, level: str, source: str, recovery: bool):
    model, tokenizer = models.load_model_dir(args.teacher)
    config = _config(method, level, env["sources"][source], args.samples)
    pruned = _prune(model, tokenizer, env["train"][0], config, env["max_length"], args.seed)
    if recovery:
        return recover(args, env, model, tokenizer)
    scores = evaluate(model, tokenizer, *env["test"], env["max_length"])
    row = {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}
    return row | {k: pruned.get(k) for k in ("prune_seconds", "weight_sparsity", "calibration_unk_rate")}


def mlm_cell(args, env: dict[str, Any], method: str, level: str, source: str) -> dict[str, Any]:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(args.mlm).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.mlm)
    config = _config(method, level, env["sources"][source], args.samples)
    pruned = _prune(model, tokenizer, env["train"][0], config, env["mlm_length"], args.seed)
    return {
        "perplexity": perplexity(model, tokenizer, env["heldout"], env["mlm_length"], args.seed),
        "mlm_prune_seconds": pruned["prune_seconds"],
    }


def recover(args, env: dict[str, Any], model, tokenizer) -> dict[str, Any]:
    """One epoch of KD from the teacher (distill settings), zeros kept; accuracy after."""
    from slimnlp.prune.oneshot.recovery import zero_count, zeros_kept
    from slimnlp.training.loop import LoopSettings, train_classifier

    d = env["cfg"].distill
    settings = LoopSettings.from_section(
        d, max_length=env["max_length"], seed=args.seed, alpha=d.alpha, temperature=d.temperature
    )
    settings = dataclasses.replace(settings, epochs=1)
    zeros, started = zero_count(model), time.perf_counter()
    with zeros_kept(model):
        train_classifier(
            model, tokenizer, env["train"], env["dev"], settings, env["teacher_logits"], progress=False
        )
    if zero_count(model) < zeros:
        raise RuntimeError(f"recovery lost zeros: {zeros} -> {zero_count(model)}")
    scores = evaluate(model, tokenizer, *env["test"], env["max_length"])
    return {
        "recovered_accuracy": scores["accuracy"],
        "recovered_macro_f1": scores["macro_f1"],
        "recovery_seconds": time.perf_counter() - started,
    }


def fnmatch_any(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, "*" if p == "all" else p) for p in patterns)


# --------------------------------------------------------------------------------------------------
# The grid, cached cell by cell


def cached(out: Path, name: str, compute, *arguments) -> dict[str, Any]:
    path = out / "cells" / f"{name.replace('/', '_').replace(':', 'of')}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    row = compute(*arguments)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row, indent=1), encoding="utf-8")
    return row


def unstructured_grid(args, env: dict[str, Any]) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    cells = [
        (m, lv, s)
        for m in args.methods
        for lv in args.levels
        for s in (args.sources if m != "magnitude" else ["-"])
    ]
    rows = []
    for method, level, source in tqdm(cells, desc="one-shot cells"):
        src = source if source != "-" else "train"  # magnitude reads no calibration
        name = f"{source}/{method}/{level}"
        row = {"source": source, "method": method, "level": level}
        if args.teacher:
            row |= cached(args.out, f"cls-{name}", classifier_cell, args, env, method, level, src, False)
        if args.mlm:
            row |= cached(args.out, f"mlm-{name}", mlm_cell, args, env, method, level, src)
        if args.teacher and fnmatch_any(name, args.recover):
            row |= cached(args.out, f"rec-{name}", classifier_cell, args, env, method, level, src, True)
        rows.append(row)
    return rows


def dense_reference(args, env: dict[str, Any]) -> dict[str, Any]:
    def accuracy():
        model, tokenizer = models.load_model_dir(args.teacher)
        return {"accuracy": evaluate(model, tokenizer, *env["test"], env["max_length"])["accuracy"]}

    def mlm_perplexity():
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        mlm = AutoModelForMaskedLM.from_pretrained(args.mlm).eval()
        mlm_tok = AutoTokenizer.from_pretrained(args.mlm)
        return {"perplexity": perplexity(mlm, mlm_tok, env["heldout"], env["mlm_length"], args.seed)}

    row = cached(args.out, "dense-cls", accuracy) if args.teacher else {}
    return row | (cached(args.out, "dense-mlm", mlm_perplexity) if args.mlm else {})


def setup(args) -> dict[str, Any]:
    cfg = load_config(args.config)
    sources, heldout = prepare_corpora(args.out, cfg.seed, cfg.pretrain.eval_sentences)
    train = read_split(args.data, "train")
    max_length, logits = cfg.teacher.max_length, None
    if args.teacher:  # without one, only the masked-LM half runs
        from slimnlp.training.batches import predict_logits

        teacher, tokenizer = models.load_model_dir(args.teacher)
        max_length = models.max_length_of(tokenizer)
        logits = (
            predict_logits(teacher, tokenizer, train[0], max_length)
            if args.recover or args.structured
            else None
        )
    return {
        "cfg": cfg,
        "sources": sources,
        "heldout": heldout,
        "train": train,
        "dev": read_split(args.data, "dev"),
        "test": read_split(args.data, "test"),
        "labels": read_label_map(args.data),
        "max_length": max_length,
        "mlm_length": cfg.pretrain.max_length,
        "teacher_logits": logits,
        "recover": recover,  # for calibration_structured.py
        "cached": cached,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/pretrain-cpu.yaml")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, default=None, help="the fine-tuned classifier")
    parser.add_argument("--mlm", type=Path, default=None, help="the MLM model before fine-tuning")
    parser.add_argument("--out", type=Path, default=Path("runs/calibration-study"))
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--recover", default="", help="cells to recover: all, or source/method/level globs")
    parser.add_argument("--methods", default=",".join(METHODS), help="a subset of " + ",".join(METHODS))
    parser.add_argument("--levels", default=",".join(LEVELS), help="a subset of " + ",".join(LEVELS))
    parser.add_argument("--sources", default=",".join(SOURCES), help="a subset of " + ",".join(SOURCES))
    parser.add_argument(
        "--structured", default="25,50", help="structured one-shot FLOPs cuts (%%), '' = none"
    )
    parser.add_argument(
        "--models",
        nargs="*",
        default=[],
        metavar="NAME=DIR",
        help="trained students timed beside (block movement)",
    )
    args = parser.parse_args(argv)
    args.models = dict(spec.split("=", 1) for spec in args.models)
    args.recover = [p for p in args.recover.split(",") if p]
    args.methods, args.levels, args.sources = (
        v.split(",") for v in (args.methods, args.levels, args.sources)
    )
    torch.set_num_threads(2)
    env = setup(args)
    dense = dense_reference(args, env)
    rows = unstructured_grid(args, env)
    speed = structured_rows(args, env) if args.structured and args.teacher else []
    write_report(args.out, dense, rows, speed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
