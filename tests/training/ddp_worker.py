"""One process of the DDP tests (tests/training/test_ddp.py), started by torchrun:

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/training/ddp_worker.py mlm OUT.json WORK [STOP]
    ... ddp_worker.py classifier OUT.json
    ... ddp_worker.py steps ROOT

The same functions also run in the test's own process (no torchrun: one process) as the reference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from slimnlp.config import PretrainConfig, load_config  # noqa: E402
from slimnlp.pretrain import mlm  # noqa: E402
from slimnlp.pretrain.run import build_mlm_model, encode_texts  # noqa: E402
from slimnlp.training.loop import LoopSettings, train_classifier  # noqa: E402
from tests.helpers_models import (  # noqa: E402
    TINY_LABELS,
    TINY_PIPELINE_SETTINGS,
    TINY_TEXTS,
    build_tiny_model_dir,
    tiny_tokenizer,
)

# Dropout off: with it on, processes draw other dropout masks than one process would.
MLM_SETTINGS = mlm.MlmSettings(max_steps=8, batch_size=6, log_every=1, eval_every=4, checkpoint_every=2,
                               learning_rate=3e-3, warmup_ratio=0.25)  # fmt: skip


def run_mlm(work: Path, stop_at: int | None = None) -> dict:
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    model = build_mlm_model(tokenizer, PretrainConfig(num_layers=2, hidden_size=32, num_heads=2,
                                                          intermediate_size=64, dropout=0.0))  # fmt: skip
    ids = encode_texts(tokenizer, TINY_TEXTS, 32)

    def interrupt(step: int) -> None:
        if step == stop_at:
            raise KeyboardInterrupt

    result = mlm.run_mlm(model, tokenizer, ids, ids[:6], MLM_SETTINGS, work, device="cpu", on_step=interrupt)
    result["weights_sum"] = float(sum(p.detach().double().abs().sum() for p in model.parameters()))
    return result


def run_classifier(work: Path) -> dict:
    from slimnlp.models import load_model_dir

    model, tokenizer = load_model_dir(build_tiny_model_dir(work / "model"))
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    settings = LoopSettings(epochs=3, batch_size=5, learning_rate=3e-3, patience=5, max_length=32)
    train, dev = (TINY_TEXTS, TINY_LABELS), (TINY_TEXTS[:9], TINY_LABELS[:9])
    result = train_classifier(model, tokenizer, train, dev, settings, progress=False, device="cpu")
    result["weights_sum"] = float(sum(p.detach().double().abs().sum() for p in model.parameters()))
    return result


def step_config(root: Path):
    overrides = [f"output_dir={root}", "name=ddp", f"tracking.tracking_uri=sqlite:///{root}/mlflow.db",
                 "tracking.codecarbon=false", "data.max_train_rows=60", "pretrain.vocab_size=200",
                 "pretrain.num_layers=1", "pretrain.hidden_size=32", "pretrain.num_heads=2",
                 "pretrain.intermediate_size=64", "pretrain.max_length=32", "pretrain.batch_size=8",
                 "pretrain.max_steps=4", "pretrain.checkpoint_every=2", "pretrain.eval_sentences=6",
                 "pretrain.log_every=1", "pretrain.eval_every=2", "teacher.epochs=2"]  # fmt: skip
    return load_config(overrides=[*TINY_PIPELINE_SETTINGS, *overrides])


def run_steps(root: Path) -> None:
    from slimnlp import steps

    cfg = step_config(root)
    steps.pretrain_mlm(cfg, root / "data", root / "pretrained")
    steps.train_teacher(cfg, root / "data", root / "teacher", pretrained_dir=root / "pretrained")


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    if mode == "steps":
        run_steps(target)
    else:
        if mode == "mlm":
            out = run_mlm(Path(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
        else:
            out = run_classifier(Path(sys.argv[3]))
        rank = int(__import__("os").environ.get("RANK", "0"))
        Path(f"{target}.rank{rank}").write_text(json.dumps(out, default=str), encoding="utf-8")
