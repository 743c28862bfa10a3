"""Model directories: build, save and load (structurally pruned) encoder classifiers.

A model directory is a Hugging Face save (config.json, model.safetensors, tokenizer files) plus
`slimnlp_layout.json`, which records the per-layer head counts and FFN sizes: transformers 5 has no
`prune_heads` and BertConfig cannot express per-layer sizes, so without the layout a pruned model
could not be rebuilt. Loading never unpickles anything: weights come from safetensors only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

LAYOUT_FILE = "slimnlp_layout.json"
METRICS_FILE = "metrics.json"

# Model types whose encoder layers share BERT's module layout (attention.self.{query,key,value},
# attention.output.dense, intermediate.dense, output.dense).
SUPPORTED_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "electra", "camembert")


class ModelDirError(ValueError):
    """A path is not a usable slimnlp/Hugging Face model directory."""


# --------------------------------------------------------------------------------------------------
# Layout of encoder layers


@dataclass
class LayerModules:
    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    attn_out: nn.Linear
    ffn_in: nn.Linear
    ffn_out: nn.Linear
    attention: nn.Module  # the self-attention module, which carries the head counts


def encoder_layers(model: nn.Module) -> list[nn.Module]:
    model_type = getattr(model.config, "model_type", "?")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelDirError(
            f"model type {model_type!r} has no known attention layout for pruning; supported: "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    base = getattr(model, model.base_model_prefix, model)
    return list(base.encoder.layer)


def layer_modules(layer: nn.Module) -> LayerModules:
    attn = layer.attention.self
    return LayerModules(
        query=attn.query,
        key=attn.key,
        value=attn.value,
        attn_out=layer.attention.output.dense,
        ffn_in=layer.intermediate.dense,
        ffn_out=layer.output.dense,
        attention=attn,
    )


def head_dim(model: nn.Module) -> int:
    return model.config.hidden_size // model.config.num_attention_heads


def model_layout(model: nn.Module) -> dict[str, Any]:
    """Per-layer head counts and FFN sizes as they are now."""
    layers = [layer_modules(layer) for layer in encoder_layers(model)]
    return {
        "head_dim": head_dim(model),
        "heads_per_layer": [m.query.out_features // head_dim(model) for m in layers],
        "intermediate_sizes": [m.ffn_in.out_features for m in layers],
    }


def _slice_linear(linear: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    """A new Linear keeping `index` along `dim` (0 = outputs, 1 = inputs)."""
    weight = linear.weight.detach().index_select(dim, index.to(linear.weight.device)).clone()
    bias = linear.bias.detach().clone() if linear.bias is not None else None
    if dim == 0 and bias is not None:
        bias = bias.index_select(0, index.to(bias.device)).clone()
    out_features, in_features = weight.shape
    new = nn.Linear(
        in_features, out_features, bias=bias is not None, device=weight.device, dtype=weight.dtype
    )
    new.weight.data.copy_(weight)
    if bias is not None:
        new.bias.data.copy_(bias)
    return new


def keep_heads(layer: nn.Module, heads: list[int], dim_per_head: int) -> None:
    """Physically keep only `heads` (indices) in one layer's self-attention."""
    if not heads:
        raise ValueError("a layer must keep at least one attention head")
    mods = layer_modules(layer)
    rows = torch.cat([torch.arange(h * dim_per_head, (h + 1) * dim_per_head) for h in sorted(heads)])
    attn = mods.attention
    attn.query = _slice_linear(mods.query, rows, 0)
    attn.key = _slice_linear(mods.key, rows, 0)
    attn.value = _slice_linear(mods.value, rows, 0)
    layer.attention.output.dense = _slice_linear(mods.attn_out, rows, 1)
    attn.num_attention_heads = len(heads)
    attn.all_head_size = len(heads) * dim_per_head


def keep_neurons(layer: nn.Module, neurons: list[int]) -> None:
    """Physically keep only `neurons` (indices) of one layer's FFN."""
    if not neurons:
        raise ValueError("a layer must keep at least one FFN neuron")
    mods = layer_modules(layer)
    index = torch.tensor(sorted(neurons), dtype=torch.long)
    layer.intermediate.dense = _slice_linear(mods.ffn_in, index, 0)
    layer.output.dense = _slice_linear(mods.ffn_out, index, 1)


def apply_layout(model: nn.Module, layout: dict[str, Any]) -> None:
    """Give a freshly built model the shapes recorded in a layout (weights are loaded afterwards)."""
    layers = encoder_layers(model)
    heads, sizes = layout["heads_per_layer"], layout["intermediate_sizes"]
    if len(heads) != len(layers) or len(sizes) != len(layers):
        raise ModelDirError(f"layout describes {len(heads)} layers but the config has {len(layers)}")
    for layer, n_heads, n_neurons in zip(layers, heads, sizes, strict=True):
        keep_heads(layer, list(range(n_heads)), layout["head_dim"])
        keep_neurons(layer, list(range(n_neurons)))


# --------------------------------------------------------------------------------------------------
# Tokenizer and from-config models


def train_wordpiece(texts: list[str], vocab_size: int, max_length: int, token_type_ids: bool = False):
    """A WordPiece tokenizer that keeps Devanagari intact: NFC only, no lowercasing, no accent
    stripping (both would delete vowel signs and the virama). `token_type_ids=True` makes it also
    return segment ids, as BERT tokenizers from the hub do."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=specials, min_frequency=1, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
        **(
            {"model_input_names": ["input_ids", "token_type_ids", "attention_mask"]} if token_type_ids else {}
        ),
    )


def build_bert(
    vocab_size: int,
    num_labels: int,
    id2label: dict[int, str],
    *,
    num_layers: int,
    hidden_size: int,
    num_heads: int,
    intermediate_size: int,
    max_length: int,
    dropout: float = 0.1,
    pad_token_id: int = 0,
):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max(512, max_length),
        num_labels=num_labels,
        id2label={int(k): v for k, v in id2label.items()},
        label2id={v: int(k) for k, v in id2label.items()},
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        pad_token_id=pad_token_id,
    )
    return BertForSequenceClassification(config)


# --------------------------------------------------------------------------------------------------
# Save and load


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    embeddings = sum(p.numel() for n, p in model.named_parameters() if ".embeddings." in f".{n}")
    return {"total": total, "embeddings": embeddings, "non_embedding": total - embeddings}


def dir_size_bytes(path: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def save_model_dir(
    model: nn.Module, tokenizer: Any, out_dir: str | Path, metrics: dict[str, Any] | None = None
) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / LAYOUT_FILE).write_text(json.dumps(model_layout(model), indent=2), encoding="utf-8")
    if metrics is not None:
        write_metrics(out, metrics)
    return out


def write_metrics(out_dir: str | Path, metrics: dict[str, Any]) -> None:
    Path(out_dir, METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")


def read_metrics(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir, METRICS_FILE)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_model_dir(path: str | Path, device: str = "cpu"):
    """Load (model, tokenizer) from a model directory, rebuilding pruned shapes from the layout."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelDirError(
            f"{path} is not a model directory (no config.json); pass the output directory of "
            "train-teacher, prune, distill or finetune-amp, or a Hugging Face model directory"
        )
    tokenizer = AutoTokenizer.from_pretrained(path)
    layout_file = path / LAYOUT_FILE
    if not layout_file.is_file():
        model = AutoModelForSequenceClassification.from_pretrained(path)
        return model.to(device).eval(), tokenizer
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ModelDirError(f"{path} has {LAYOUT_FILE} but no model.safetensors")
    config = AutoConfig.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_config(config)
    apply_layout(model, json.loads(layout_file.read_text(encoding="utf-8")))
    state = load_file(str(weights))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied/derived buffers such as position_ids may be absent from the file; real weights may not.
    missing = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ModelDirError(
            f"{weights} does not match its layout: missing={missing[:5]} unexpected={unexpected[:5]}"
        )
    return model.to(device).eval(), tokenizer


def load_checkpoint(checkpoint: str, id2label: dict[int, str], cache_dir: str | Path):
    """(model, tokenizer) from a hub name, a local directory or an s3:// URI, with a fresh
    classification head sized for `id2label` unless the checkpoint already has exactly these labels."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    source = checkpoint
    if checkpoint.startswith("s3://"):
        from slimnlp.storage import fetch

        source = str(fetch(checkpoint.rstrip("/") + "/", Path(cache_dir) / "teacher_checkpoint"))
    local = Path(source).expanduser()
    if local.exists():
        if (local / LAYOUT_FILE).is_file():
            model, tokenizer = load_model_dir(local)
            if model.config.num_labels == len(id2label):
                return model, tokenizer
        source = str(local)
    elif "/" not in checkpoint and not checkpoint.replace("-", "").replace("_", "").isalnum():
        raise ModelDirError(f"teacher.checkpoint {checkpoint!r} is neither a directory nor a model name")
    labels = {int(k): v for k, v in id2label.items()}
    try:
        config = AutoConfig.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
        same_labels = getattr(config, "id2label", None) == labels
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            num_labels=len(labels),
            id2label=labels,
            label2id={v: k for k, v in labels.items()},
            ignore_mismatched_sizes=not same_labels,
        )
    except (OSError, ValueError) as err:
        where = "local directory" if local.exists() else "hub model name"
        raise ModelDirError(
            f"could not load teacher.checkpoint {checkpoint!r} as a {where}: {str(err).splitlines()[0]}. "
            "Without a reachable model hub pass a local directory or an s3:// URI, or set "
            "teacher.checkpoint: null to train a teacher from a config."
        ) from err
    if getattr(model.config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        raise ModelDirError(
            f"teacher.checkpoint {checkpoint!r} is a {model.config.model_type!r} model; "
            f"slimnlp can prune {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    return model, tokenizer


def keep_layers(model: nn.Module, count: int) -> list[int]:
    """Keep `count` evenly spaced encoder layers (first and last included); returns their indices."""
    layers = encoder_layers(model)
    if count >= len(layers):
        return list(range(len(layers)))
    if count == 1:
        chosen = [len(layers) - 1]
    else:
        chosen = sorted({round(i * (len(layers) - 1) / (count - 1)) for i in range(count)})
    base = getattr(model, model.base_model_prefix)
    base.encoder.layer = nn.ModuleList([layers[i] for i in chosen])
    model.config.num_hidden_layers = len(chosen)
    return chosen
