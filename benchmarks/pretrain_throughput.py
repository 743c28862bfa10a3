"""Masked-LM pretraining throughput: single sentences vs packed sequences, same machine, one run.

    .venv/bin/python benchmarks/pretrain_throughput.py --config configs/pretrain-cpu.yaml \
        [--tokenizer DIR] [--seconds 60] [--rounds 2] [--batch-sizes 64,16,32]

Trains the config's pretrain model (fresh weights per round, same seed) for `--seconds` of wall time
per variant, alternating the variants round by round so that machine noise hits both, and prints
training tokens (non-padding) per second, sentences per second and the ratio to the unpacked
baseline. Without --tokenizer a WordPiece is trained on the corpus first (not timed).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv: list[str] | None = None) -> int:
    from slimnlp.config import load_config
    from slimnlp.data.corpus import read_corpus
    from slimnlp.pretrain.mlm import MlmSettings, run_mlm
    from slimnlp.pretrain.run import build_mlm_model, encode_texts, pack_sentences, train_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "pretrain-cpu.yaml"))
    parser.add_argument("--tokenizer", help="a tokenizer directory (e.g. a pretrain-mlm model dir)")
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--batch-sizes", default="16,32", help="packed batch sizes to try (sequences per batch)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoTokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    p = cfg.pretrain
    if not p.corpus:
        parser.error(f"{args.config} has no pretrain.corpus to time")
    texts = read_corpus(list(p.corpus), p.text_column, ROOT / "runs" / "downloads")
    tokenizer = (
        AutoTokenizer.from_pretrained(args.tokenizer)
        if args.tokenizer
        else train_tokenizer(texts, p.vocab_size, p.max_length)
    )
    ids = encode_texts(tokenizer, texts, p.max_length)
    packed = pack_sentences(ids, p.max_length)
    print(
        f"{len(texts):,} sentences, {sum(map(len, ids)):,} tokens, {len(packed):,} packs of <= "
        f"{p.max_length} tokens ({len(ids) / len(packed):.2f} sentences per pack); "
        f"{torch.get_num_threads()} threads",
        flush=True,
    )
    variants = [("sentences", p.batch_size, ids)] + [
        ("packed", int(b), packed) for b in args.batch_sizes.split(",") if b.strip()
    ]
    results: dict[str, list[tuple[float, float]]] = {}
    for round_ in range(args.rounds):
        for name, batch_size, train_ids in variants:
            key = f"{name} b{batch_size}"
            torch.manual_seed(cfg.seed)
            model = build_mlm_model(tokenizer, p)
            settings = dataclasses.replace(
                MlmSettings.from_config(p, cfg.seed),
                batch_size=batch_size,
                max_minutes=args.seconds / 60,
                max_steps=10**9,
                eval_every=10**9,
                log_every=10**9,
                checkpoint_every=0,
            )
            started = time.perf_counter()
            out = run_mlm(model, tokenizer, train_ids, [], settings, None, device="cpu")
            seconds = time.perf_counter() - started
            per_sentence = len(ids) / len(train_ids)
            results.setdefault(key, []).append(
                (out["tokens_seen"] / seconds, out["steps"] * batch_size * per_sentence / seconds)
            )
            print(f"round {round_ + 1} {key}: {out['tokens_seen'] / seconds:,.0f} tokens/s", flush=True)
    base = statistics.median(t for t, _ in results[f"sentences b{p.batch_size}"])
    print(f"\n{'variant':<16} {'tokens/s':>10} {'sentences/s':>12} {'vs sentences':>13}")
    for key, rows in results.items():
        tokens = statistics.median(t for t, _ in rows)
        sentences = statistics.median(s for _, s in rows)
        print(f"{key:<16} {tokens:>10,.0f} {sentences:>12,.0f} {tokens / base:>12.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
