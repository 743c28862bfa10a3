"""Pruned encoders that plain transformers can load: the modeling file saved in every model directory.

    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained("runs/x/student", trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained("runs/x/student")

A structurally pruned BERT has per-layer head counts and FFN sizes that its config cannot say, so the
stock class builds 128x128 weights where the file holds 128x96. `save_model_dir` copies this file
into the directory as `slimnlp_modeling.py` and writes, into config.json, the layout (`slimnlp_layout`)
and `auto_map`, which points AutoModelForSequenceClassification at the class below for that model
type: the stock class, with each layer's linear layers resized to the layout before the weights load.

A layout may also say `"pooling": "mean"` (config `slimnlp_pooling`): the zero-layer student of a
NAS run, whose encoder has no layer left. Its prediction is the token embeddings averaged under the
attention mask and the model's own classification head (for BERT its pooler, then the classifier),
what static-embedding classifiers such as Model2Vec compute; reading the [CLS] row, as the stock
class does, would give every text the same vector.

This file is run by transformers from the model directory: it imports only torch and transformers,
never slimnlp. Without trust_remote_code, transformers keeps using its own (unpruned) class.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    BertForSequenceClassification,
    CamembertForSequenceClassification,
    ElectraForSequenceClassification,
    RobertaForSequenceClassification,
    XLMRobertaForSequenceClassification,
)


def resize_to_layout(model: nn.Module, layout: dict) -> None:
    """Give each encoder layer the head count and FFN size of `layout` (fresh weights: the
    checkpoint's are loaded afterwards)."""
    base = getattr(model, model.base_model_prefix)
    hidden, head_dim = model.config.hidden_size, int(layout["head_dim"])
    layers = base.encoder.layer
    if len(layout["heads_per_layer"]) != len(layers):
        raise ValueError(
            f"slimnlp_layout describes {len(layout['heads_per_layer'])} layers, the config {len(layers)}"
        )
    for layer, heads, ffn in zip(
        layers, layout["heads_per_layer"], layout["intermediate_sizes"], strict=True
    ):
        attention, width = layer.attention.self, int(heads) * head_dim
        attention.query = nn.Linear(hidden, width)
        attention.key = nn.Linear(hidden, width)
        attention.value = nn.Linear(hidden, width)
        attention.num_attention_heads, attention.all_head_size = int(heads), width
        layer.attention.output.dense = nn.Linear(width, hidden)
        layer.intermediate.dense = nn.Linear(hidden, int(ffn))
        layer.output.dense = nn.Linear(int(ffn), hidden)


MEAN_POOLING = "mean"


def mean_pooled_logits(model: nn.Module, input_ids, attention_mask=None, token_type_ids=None):
    """Logits of a zero-layer model: embeddings averaged over the unmasked tokens, then the model's
    head (BERT: pooler + classifier; RoBERTa/ELECTRA heads read position 0 of what they are given)."""
    base = getattr(model, model.base_model_prefix)
    hidden = base.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    if attention_mask is None:
        attention_mask = torch.ones(input_ids.shape, dtype=hidden.dtype, device=hidden.device)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)).unsqueeze(1)
    pooler = getattr(base, "pooler", None)
    if pooler is not None:  # BERT: pooler (dense + tanh of position 0), dropout, classifier
        return model.classifier(model.dropout(pooler(pooled)))
    return model.classifier(pooled)


class _PrunedLayout:
    def __init__(self, config, *args, **kwargs) -> None:  # noqa: ANN001 - transformers' signature
        super().__init__(config, *args, **kwargs)
        layout = getattr(config, "slimnlp_layout", None)
        if layout:
            resize_to_layout(self, layout)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):  # noqa: ANN001
        if getattr(self.config, "slimnlp_pooling", None) != MEAN_POOLING:
            return super().forward(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                labels=labels,
                **kwargs,
            )
        from transformers.modeling_outputs import SequenceClassifierOutput

        logits = mean_pooled_logits(self, input_ids, attention_mask, token_type_ids)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


class SlimnlpBertForSequenceClassification(_PrunedLayout, BertForSequenceClassification):
    pass


class SlimnlpRobertaForSequenceClassification(_PrunedLayout, RobertaForSequenceClassification):
    pass


class SlimnlpXLMRobertaForSequenceClassification(_PrunedLayout, XLMRobertaForSequenceClassification):
    pass


class SlimnlpCamembertForSequenceClassification(_PrunedLayout, CamembertForSequenceClassification):
    pass


class SlimnlpElectraForSequenceClassification(_PrunedLayout, ElectraForSequenceClassification):
    pass


def use_mean_pooling(model: nn.Module) -> nn.Module:
    """Make `model` (a stock or slimnlp classifier of a known type) predict by mean pooling, in place:
    its class becomes the slimnlp subclass (same modules, the forward above) and its config says so."""
    cls = CLASS_OF_MODEL_TYPE.get(getattr(model.config, "model_type", None))
    if cls is None:
        raise ValueError(
            f"mean pooling needs one of {sorted(CLASS_OF_MODEL_TYPE)}, not {model.config.model_type!r}"
        )
    if not isinstance(model, cls):
        model.__class__ = cls  # a subclass that adds no state: the modules stay as they are
    model.config.slimnlp_pooling = MEAN_POOLING
    return model


CLASS_OF_MODEL_TYPE = {
    "bert": SlimnlpBertForSequenceClassification,
    "roberta": SlimnlpRobertaForSequenceClassification,
    "xlm-roberta": SlimnlpXLMRobertaForSequenceClassification,
    "camembert": SlimnlpCamembertForSequenceClassification,
    "electra": SlimnlpElectraForSequenceClassification,
}
