"""`slimnlp vocab-transfer`: fast vocabulary transfer of a fine-tuned model, compared with the original.
(`slimnlp pretrain-mlm` is a step verb like the others; see slimnlp.steps.spec.)

    slimnlp vocab-transfer --config configs/mahanews-shc.yaml --model runs/mahanews-shc/teacher \
        --vocab-size 4000 --out runs/mahanews-shc/teacher-fvt
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path


class _UsageError(ValueError):
    """A command-line mistake (printed as `error: ...`, exit 2)."""


def add_verbs(verbs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> dict:
    """Add vocab-transfer to `verbs`; return {verb: command(args) -> exit code}."""
    fvt = verbs.add_parser(
        "vocab-transfer",
        help="fast vocabulary transfer of a fine-tuned model to a smaller in-domain vocabulary, compared",
        description="Train an in-domain tokenizer of --vocab-size on the training text, initialise its "
        "embeddings from the model, fine-tune, and compare with the original (fvt_report.md).",
    )
    common(fvt)
    fvt.add_argument("--model", metavar="DIR", help="fine-tuned model directory (default: <run dir>/teacher)")
    fvt.add_argument("--data", metavar="DIR", help="prepared data directory (default: <run dir>/data)")
    fvt.add_argument("--vocab-size", type=int, required=True, metavar="N", help="new vocabulary size")
    fvt.add_argument(
        "--mlm-steps", type=int, default=0, metavar="N", help="masked-LM adaptation steps (default 0)"
    )
    fvt.add_argument("--out", metavar="DIR", help="output model directory (default: <run dir>/teacher-fvt)")
    fvt.add_argument("--parent-run-id", default=None, metavar="RUN_ID", help="MLflow run to nest under")
    return {"vocab-transfer": cmd_vocab_transfer}


def _directory(value: str, flag: str) -> str:
    if not Path(value).is_dir():
        raise _UsageError(f"{flag} {value} is not a directory; pass an existing directory ({flag} DIR)")
    return value


def cmd_vocab_transfer(args: argparse.Namespace) -> int:
    from slimnlp.config import load_config

    cfg = load_config(args.config, args.overrides)
    model = _directory(args.model or str(cfg.run_dir / "teacher"), "--model")
    data = _directory(args.data or str(cfg.run_dir / "data"), "--data")
    if args.vocab_size < 100:
        raise _UsageError(f"--vocab-size must be >= 100, got {args.vocab_size}")
    out = args.out or str(cfg.run_dir / "teacher-fvt")
    from slimnlp.models.vocab_transfer import compare_vocab_transfer

    result = compare_vocab_transfer(
        cfg, data, model, out, args.vocab_size, mlm_steps=args.mlm_steps, parent_run_id=args.parent_run_id
    )
    print(Path(out, "fvt_report.md").read_text(encoding="utf-8"))
    print(json.dumps(result["fvt"], indent=2))
    return 0
