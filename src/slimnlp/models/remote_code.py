"""Pruned encoders that plain transformers can load: the modeling file saved in every model directory.

    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained("runs/x/student", trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained("runs/x/student")

A structurally pruned BERT has per-layer head counts and FFN sizes that its config cannot say, so the
stock class builds 128x128 weights where the file holds 128x96. `save_model_dir` copies this file
into the directory as `slimnlp_modeling.py` and writes, into config.json, the layout (`slimnlp_layout`)
and `auto_map`, which points AutoModelForSequenceClassification at the class below for that model
type: the stock class, with each layer's linear layers resized to the layout before the weights load.

This file is run by transformers from the model directory: it imports only torch and transformers,
never slimnlp. Without trust_remote_code, transformers keeps using its own (unpruned) class.
"""

from __future__ import annotations

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


class _PrunedLayout:
    def __init__(self, config, *args, **kwargs) -> None:  # noqa: ANN001 - transformers' signature
        super().__init__(config, *args, **kwargs)
        layout = getattr(config, "slimnlp_layout", None)
        if layout:
            resize_to_layout(self, layout)


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


CLASS_OF_MODEL_TYPE = {
    "bert": SlimnlpBertForSequenceClassification,
    "roberta": SlimnlpRobertaForSequenceClassification,
    "xlm-roberta": SlimnlpXLMRobertaForSequenceClassification,
    "camembert": SlimnlpCamembertForSequenceClassification,
    "electra": SlimnlpElectraForSequenceClassification,
}
