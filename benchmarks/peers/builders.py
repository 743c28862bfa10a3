"""Each peer's model, made the way that peer's documentation makes it. Runs inside the peer's venv:

    <venv>/bin/python benchmarks/peers/builders.py <peer> '<json: teacher, data, out, ...>'

and writes `<out>/peer.json`: {"runtime": "onnx-int8" | "fasttext" | "model2vec", "path", "tokenizer_dir",
"settings": what was chosen and why}. Nothing here imports another peer's package.
- optimum: `ORTModelForSequenceClassification.from_pretrained(teacher, export=True)`, `ORTOptimizer`
  (OptimizationConfig level 2, the level the Optimum docs use for BERT on CPU), `ORTQuantizer` with
  `AutoQuantizationConfig.<isa>(is_static=False)` (dynamic int8; avx512_vnni / avx512 / avx2 after
  the CPU's flags).
- model2vec: `model2vec.distill.distill(teacher)` (its defaults: PCA to 256 dims, Zipf weighting),
  then `model2vec.train.StaticModelForClassification` fitted on the train split, saved as a pipeline.
- fasttext: `fasttext.train_supervised` with autotune on the dev split (the documented way to get
  its best model), then the model as trained (.bin).
- torch-pruning: `tp.pruner.MetaPruner` with `GroupMagnitudeImportance` (the docs' default),
  whole heads (`prune_num_heads`) and FFN channels, the hidden size kept; the pruned model is saved
  as a slimnlp model dir and recovered by slimnlp's own distill + finetune-amp (same epochs as
  slimnlp's student), then export-onnx (int8).
- textpruner: `TransformerPruner` (heads + FFN, iterative, its documented config), the same recovery.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def read_split(data_dir: str | Path, split: str) -> tuple[list[str], list[int]]:
    """(texts, label ids) of a prepared split: `<split>.arrow` (an Arrow IPC stream, what prepare-data
    writes) or `<split>.jsonl` (older outputs). Read with pyarrow, not slimnlp: a peer's venv may pin
    other versions of what slimnlp imports."""
    jsonl = Path(data_dir) / f"{split}.jsonl"
    if jsonl.is_file():
        records = [
            json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        return [str(r["text"]) for r in records], [int(r["label"]) for r in records]
    import pyarrow as pa

    with pa.memory_map(str(Path(data_dir) / f"{split}.arrow")) as source:
        table = pa.ipc.open_stream(source).read_all()
    return [str(t) for t in table.column("text").to_pylist()], [
        int(x) for x in table.column("label").to_pylist()
    ]


def write_peer(out: Path, info: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "peer.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def _isa() -> str:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    return "avx512" if "avx512f" in flags else "avx2"


def build_optimum(args: dict[str, Any]) -> None:
    from optimum.onnxruntime import ORTModelForSequenceClassification, ORTOptimizer, ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig, OptimizationConfig

    out = Path(args["out"])
    exported = out / "exported"
    model = ORTModelForSequenceClassification.from_pretrained(args["teacher"], export=True)
    model.save_pretrained(exported)
    optimizer = ORTOptimizer.from_pretrained(model)
    optimizer.optimize(
        save_dir=out / "optimized", optimization_config=OptimizationConfig(optimization_level=2)
    )
    isa = _isa()
    qconfig = getattr(AutoQuantizationConfig, isa)(is_static=False, per_channel=False)
    source = "optimized"
    try:
        quantizer = ORTQuantizer.from_pretrained(out / "optimized", file_name="model_optimized.onnx")
        quantizer.quantize(save_dir=out / "int8", quantization_config=qconfig)
    except RuntimeError as err:
        # ORT's quantizer cannot type the fused (com.microsoft) nodes of the optimised graph: quantize
        # the exported graph instead; ORT applies the same fusions when it loads the session.
        print(f"quantizing the optimised graph failed ({err}); quantizing the exported graph", flush=True)
        source = f"exported (optimised graph not quantizable: {str(err)[:160]})"
        quantizer = ORTQuantizer.from_pretrained(exported, file_name="model.onnx")
        quantizer.quantize(save_dir=out / "int8", quantization_config=qconfig)
    path = next((out / "int8").glob("*.onnx"))
    write_peer(
        out,
        {
            "runtime": "onnx-int8",
            "path": str(path),
            "tokenizer_dir": args["teacher"],
            "settings": {
                "optimization_level": 2,
                "quantized_graph": source,
                "quantization": f"AutoQuantizationConfig.{isa}(is_static=False)",
            },
        },
    )


def build_model2vec(args: dict[str, Any]) -> None:
    from model2vec.distill import distill
    from model2vec.train import StaticModelForClassification

    out = Path(args["out"])
    static = distill(model_name=args["teacher"])
    static.save_pretrained(str(out / "static"))
    texts, labels = read_split(args["data"], "train")
    dev_texts, dev_labels = read_split(args["data"], "dev")
    classifier = StaticModelForClassification.from_pretrained(model_name=str(out / "static"))
    names = args["id2label"]
    # The dev split validates (early stopping), as it does for slimnlp's teacher and students.
    classifier.fit(
        texts, [names[str(y)] for y in labels], X_val=dev_texts, y_val=[names[str(y)] for y in dev_labels]
    )
    pipeline = classifier.to_pipeline()
    pipeline.save_pretrained(str(out / "pipeline"))
    write_peer(
        out,
        {
            "runtime": "model2vec",
            "path": str(out / "pipeline"),
            "tokenizer_dir": str(out / "pipeline"),
            "settings": {
                "distill": "defaults (pca_dims 256)",
                "classifier": "StaticModelForClassification.fit defaults, dev split as validation",
            },
        },
    )


def build_fasttext(args: dict[str, Any]) -> None:
    import fasttext

    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    names = args["id2label"]
    for split in ("train", "dev"):
        texts, labels = read_split(args["data"], split)
        lines = [f"__label__{y} {' '.join(t.split())}" for t, y in zip(texts, labels, strict=True)]
        (out / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    seconds = int(args.get("fasttext_autotune_s", 300))
    model = fasttext.train_supervised(
        input=str(out / "train.txt"),
        autotuneValidationFile=str(out / "dev.txt"),
        autotuneDuration=seconds,
        thread=int(args.get("threads", 2)),
    )
    model.save_model(str(out / "model.bin"))
    # The docs' way to a small model: quantize with retraining (product quantisation, .ftz).
    started = time.perf_counter()
    model.quantize(input=str(out / "train.txt"), qnorm=True, retrain=True, cutoff=100000)
    model.save_model(str(out / "model.ftz"))
    quantize_s = time.perf_counter() - started
    write_peer(
        out,
        {
            "runtime": "fasttext",
            "path": str(out / "model.bin"),
            "tokenizer_dir": str(out),
            "labels": {f"__label__{i}": int(i) for i in names},
            "settings": {"autotune_s": seconds, "autotune_on": "dev split"},
            "extra": [{"suffix": "ftz", "path": str(out / "model.ftz"), "extra_s": quantize_s}],
        },
    )


def build_torch_pruning(args: dict[str, Any]) -> None:
    import torch
    import torch_pruning as tp

    from slimnlp import models

    out = Path(args["out"])
    model, tokenizer = models.load_model_dir(args["teacher"])
    model.eval()
    head_ratio, ffn_ratio = args["head_ratio"], args["ffn_ratio"]
    texts, _ = read_split(args["data"], "train")
    example = tokenizer(texts[:4], padding="max_length", truncation=True, max_length=32, return_tensors="pt")
    example = {k: v for k, v in example.items()}
    base = getattr(model, model.base_model_prefix)
    num_heads = {}
    for layer in models.encoder_layers(model):
        attn = layer.attention.self
        heads = attn.query.out_features // models.head_dim(model)
        for linear in (attn.query, attn.key, attn.value):
            num_heads[linear] = heads
    ignored = [base.embeddings, model.classifier] + ([base.pooler] if getattr(base, "pooler", None) else [])
    # The hidden size (residual stream) stays: slimnlp's layout keeps it, and so do the students compared.
    ignored += [layer.attention.output.dense for layer in models.encoder_layers(model)]
    ignored += [layer.output.dense for layer in models.encoder_layers(model)]
    pruner = tp.pruner.MetaPruner(
        model,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=ffn_ratio,
        ignored_layers=ignored,
        num_heads=num_heads,
        prune_num_heads=True,
        prune_head_dims=False,
        head_pruning_ratio=head_ratio,
        output_transform=lambda output: output.logits.sum(),
    )
    started = time.perf_counter()
    for group in pruner.step(interactive=True):
        group.prune()
    for layer in models.encoder_layers(model):
        attn = layer.attention.self
        attn.num_attention_heads = pruner.num_heads[attn.query]
        attn.all_head_size = attn.query.out_features
    pruned = out / "pruned"
    models.save_model_dir(model, tokenizer, pruned, metrics={"prune_seconds": time.perf_counter() - started})
    with torch.no_grad():  # the saved dir loads and runs (shapes consistent)
        reloaded, _ = models.load_model_dir(pruned)
        reloaded(**example)
    _recover(args, pruned, out, "torch-pruning")


def build_textpruner(args: dict[str, Any]) -> None:
    """TextPruner's TransformerPruner (iterative, gradient importance of heads and FFN units) in its
    venv's transformers 4 (it calls `prune_heads`, which transformers 5 removed); the pruned model
    is saved with a slimnlp layout file so slimnlp's own recovery can load it."""
    import shutil

    import torch
    from textpruner import GeneralConfig, TransformerPruner, TransformerPruningConfig
    from tokenizers import Tokenizer
    from transformers import AutoModelForSequenceClassification

    out = Path(args["out"])
    model = AutoModelForSequenceClassification.from_pretrained(args["teacher"])
    config = model.config
    heads = max(1, round(config.num_attention_heads * (1 - args["head_ratio"])))
    ffn = max(1, round(config.intermediate_size * (1 - args["ffn_ratio"])))
    texts, labels = read_split(args["data"], "train")
    # The teacher's tokenizer was saved by transformers 5 (class TokenizersBackend, unknown to 4):
    # its tokenizer.json is read with `tokenizers` directly, and copied unchanged to the pruned model.
    tokenizer = Tokenizer.from_file(str(Path(args["teacher"]) / "tokenizer.json"))
    tokenizer.enable_truncation(64)
    tokenizer.enable_padding(pad_id=config.pad_token_id or 0)
    encodings = tokenizer.encode_batch(texts[:512])
    input_ids = torch.tensor([e.ids for e in encodings])
    attention = torch.tensor([e.attention_mask for e in encodings])
    batches = [
        {
            "input_ids": input_ids[k : k + 32],
            "attention_mask": attention[k : k + 32],
            "labels": torch.tensor(labels[k : k + 32]),
        }
        for k in range(0, len(input_ids), 32)
    ]
    pruning = TransformerPruningConfig(
        target_ffn_size=ffn, target_num_of_heads=heads, pruning_method="iterative", n_iters=4
    )
    general = GeneralConfig(use_device="cpu", output_dir=str(out / "textpruner"))  # not ./pruned_models
    pruner = TransformerPruner(model, general_config=general, transformer_pruning_config=pruning)
    pruner.prune(dataloader=batches, save_model=False)  # adaptor None: the loss is outputs.loss
    pruned = out / "pruned"
    model.save_pretrained(pruned)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (Path(args["teacher"]) / name).is_file():
            shutil.copy(Path(args["teacher"]) / name, pruned / name)
    head_dim = config.hidden_size // config.num_attention_heads
    layers = model.base_model.encoder.layer
    layout = {
        "head_dim": head_dim,
        # from the weights: TextPruner slices them in place and leaves Linear.out_features as it was
        "heads_per_layer": [layer.attention.self.query.weight.shape[0] // head_dim for layer in layers],
        "intermediate_sizes": [layer.intermediate.dense.weight.shape[0] for layer in layers],
    }
    (pruned / "slimnlp_layout.json").write_text(json.dumps(layout, indent=2), encoding="utf-8")
    _recover(args, pruned, out, "textpruner")


def _recover(args: dict[str, Any], pruned: Path, out: Path, peer: str) -> None:
    """slimnlp's own distill + finetune-amp (the student's epochs) and export-onnx, in slimnlp's env."""
    slimnlp = [args["slimnlp"]]
    common = ["--config", args["config"], "--data", args["data"]]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    steps = [
        [
            "distill",
            *common,
            "--teacher",
            args["teacher"],
            "--student",
            str(pruned),
            "--out",
            str(out / "distilled"),
        ],
        [
            "finetune-amp",
            *common,
            "--teacher",
            args["teacher"],
            "--student",
            str(out / "distilled"),
            "--out",
            str(out / "student"),
        ],
        ["export-onnx", *common, "--model", str(out / "student"), "--out", str(out / "onnx")],
    ]
    for step in steps:
        subprocess.run([*slimnlp, *step, *args.get("sets", [])], check=True, env=env)
    write_peer(
        out,
        {
            "runtime": "onnx-int8",
            "path": str(out / "onnx" / "model.int8.onnx"),
            "tokenizer_dir": str(out / "onnx"),
            "model_dir": str(out / "student"),
            "settings": {
                "head_ratio": args["head_ratio"],
                "ffn_ratio": args["ffn_ratio"],
                "recovery": "slimnlp distill + finetune-amp",
            },
            "peer": peer,
        },
    )


BUILDERS = {
    "optimum": build_optimum,
    "model2vec": build_model2vec,
    "fasttext": build_fasttext,
    "torch-pruning": build_torch_pruning,
    "textpruner": build_textpruner,
}

if __name__ == "__main__":
    # `kernels` (Hugging Face hub kernels) leaks in from slimnlp's layered packages and is newer than
    # a peer's pinned transformers can read; no peer needs it, so it is hidden (ImportError).
    sys.modules["kernels"] = None
    BUILDERS[sys.argv[1]](json.loads(sys.argv[2]))
