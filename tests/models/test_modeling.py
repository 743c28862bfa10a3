"""Model directories: physical head/neuron removal, exact save/load, tokenizer, checkpoints."""

import json

import pytest
import torch

from slimnlp import models

TEXTS = [
    "भारताने क्रिकेट सामना जिंकला",
    "निवडणुकीचा निकाल जाहीर झाला",
    "पावसामुळे शेतकऱ्यांचे नुकसान",
    "नवीन स्मार्टफोन बाजारात दाखल",
    "रुग्णालयात लसीकरण मोहीम सुरू",
    "शेअर बाजारात मोठी घसरण",
] * 5


@pytest.fixture(scope="module")
def tokenizer():
    return models.train_wordpiece(TEXTS, 300, 32)


def tiny(tokenizer, layers=2, heads=4, hidden=32, ffn=64):
    torch.manual_seed(0)
    return models.build_bert(
        len(tokenizer),
        3,
        {0: "a", 1: "b", 2: "c"},
        num_layers=layers,
        hidden_size=hidden,
        num_heads=heads,
        intermediate_size=ffn,
        max_length=32,
    ).eval()


def test_tokenizer_keeps_devanagari_intact(tokenizer):
    # Lower-casing or accent stripping would delete vowel signs and the virama (्).
    text = "क्रिकेट सामना"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True).replace(" ##", "") == text
    assert "[UNK]" not in tokenizer.tokenize(text)
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


def test_removed_heads_are_gone_and_reload_is_bit_exact(tokenizer, tmp_path):
    model = tiny(tokenizer)
    before = models.count_parameters(model)["total"]
    layers = models.encoder_layers(model)
    models.keep_heads(layers[0], [1, 3], models.head_dim(model))
    models.keep_neurons(layers[1], list(range(10)))
    assert layers[0].attention.self.query.weight.shape == (16, 32)
    assert layers[0].attention.output.dense.weight.shape == (32, 16)
    assert layers[1].intermediate.dense.weight.shape == (10, 32)
    assert models.count_parameters(model)["total"] == before - 3 * (2 * 8 * 32 + 2 * 8) - 2 * 8 * 32 - (
        54 * 32 * 2 + 54
    )

    batch = tokenizer(TEXTS[:4], return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = model(**batch).logits
    models.save_model_dir(model, tokenizer, tmp_path, {"note": 1})
    layout = json.loads((tmp_path / models.LAYOUT_FILE).read_text())
    assert layout["heads_per_layer"] == [2, 4] and layout["intermediate_sizes"] == [64, 10]
    assert not list(tmp_path.glob("*.bin")) and (tmp_path / "model.safetensors").is_file()
    reloaded, _ = models.load_model_dir(tmp_path)
    with torch.no_grad():
        assert torch.equal(reloaded(**batch).logits, expected)
    assert models.read_metrics(tmp_path) == {"note": 1}


def test_keep_layers_evenly_spaced(tokenizer):
    model = tiny(tokenizer, layers=4)
    assert models.keep_layers(model, 2) == [0, 3]
    assert len(models.encoder_layers(model)) == 2 and model.config.num_hidden_layers == 2


def test_not_a_model_dir(tmp_path):
    with pytest.raises(models.ModelDirError, match=str(tmp_path)):
        models.load_model_dir(tmp_path)


def test_unsupported_model_type_names_supported_ones():
    from transformers import GPT2Config, GPT2ForSequenceClassification

    model = GPT2ForSequenceClassification(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    with pytest.raises(models.ModelDirError, match="supported: bert, roberta"):
        models.encoder_layers(model)


def test_checkpoint_from_local_hf_dir_gets_new_head(tokenizer, tmp_path):
    model = tiny(tokenizer)
    model.save_pretrained(tmp_path)  # a plain HF save: no layout file, 3 labels
    tokenizer.save_pretrained(tmp_path)
    loaded, _ = models.load_checkpoint(str(tmp_path), {0: "x", 1: "y"}, tmp_path / "cache")
    assert loaded.config.num_labels == 2 and loaded.config.id2label == {0: "x", 1: "y"}
    assert torch.equal(
        loaded.bert.embeddings.word_embeddings.weight, model.bert.embeddings.word_embeddings.weight
    )


def test_unreachable_hub_name_is_a_clear_error(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelDirError, match="pass a local directory or an s3:// URI"):
        models.load_checkpoint("l3cube-pune/no-such-model", {0: "a", 1: "b"}, tmp_path)
