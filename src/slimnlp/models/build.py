"""Build a classifier: a small BERT from config with a WordPiece tokenizer trained on the task text, or a
pretrained checkpoint (hub name, local directory, s3://) with a fresh classification head.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from slimnlp.models.directory import load_model_dir
from slimnlp.models.surgery import LAYOUT_FILE, SUPPORTED_MODEL_TYPES, ModelDirError


def train_wordpiece(texts: list[str], vocab_size: int, max_length: int, token_type_ids: bool = False):
    """A WordPiece tokenizer that keeps Devanagari intact: NFC only, no lowercasing, no accent
    stripping (both would delete vowel signs and the virama). `token_type_ids=True` makes it also
    return segment ids, as BERT tokenizers from the hub do. The same texts and size give the same
    vocabulary on every run (`slimnlp.models.wordpiece`)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from slimnlp.models.wordpiece import train_wordpiece_backend

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    template = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    template.normalizer = normalizers.NFC()
    template.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    template.decoder = decoders.WordPiece()
    # Specials take ids 0-4 in this order ([PAD] = 0); the post-processor's ids are looked up again.
    template.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tok = train_wordpiece_backend(template, texts, vocab_size, specials)
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


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    embeddings = sum(p.numel() for n, p in model.named_parameters() if ".embeddings." in f".{n}")
    return {"total": total, "embeddings": embeddings, "non_embedding": total - embeddings}


def load_checkpoint(checkpoint: str, id2label: dict[int, str], cache_dir: str | Path):
    """(model, tokenizer) from a hub name, a local directory or an s3:// URI, with a fresh
    classification head sized for `id2label` unless the checkpoint already has exactly these labels."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    source = checkpoint
    if checkpoint.startswith("s3://"):
        from slimnlp.mlops.storage import fetch

        source = str(fetch(checkpoint.rstrip("/") + "/", Path(cache_dir) / "teacher_checkpoint"))
    local = Path(source).expanduser()
    if local.exists():
        check_weight_files(local, checkpoint)
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


def check_weight_files(model_dir: str | Path, checkpoint: str | None = None) -> None:
    """Stop with a clear error when a `*.safetensors` file in `model_dir` is truncated or corrupt
    (an interrupted copy or download): its header says how many bytes its tensors take, and the
    file must hold them all. Reads only the headers."""
    import json
    import struct

    what = f"teacher.checkpoint {checkpoint!r}" if checkpoint else str(model_dir)
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        size = path.stat().st_size
        problem = None
        with open(path, "rb") as handle:
            head = handle.read(8)
            header_len = struct.unpack("<Q", head)[0] if len(head) == 8 else None
            if header_len is None or header_len > size - 8:
                problem = f"its header is cut off ({size:,} bytes in all)"
            else:
                try:
                    header = json.loads(handle.read(header_len))
                    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
                    expected = 8 + header_len + max(ends, default=0)
                    if size < expected:
                        problem = f"{size:,} bytes where its header describes {expected:,}"
                except (ValueError, KeyError, TypeError, IndexError):
                    problem = "its header is not valid safetensors JSON"
        if problem:
            raise ModelDirError(
                f"{what}: {path} is truncated or corrupt ({problem}); an interrupted copy or download "
                "leaves such a file. Copy the model directory again, or point teacher.checkpoint at a "
                "complete one"
            )
