"""Masked-LM pretraining: masking proportions, the schedule, resume after an interruption, the cache,
and the wiring pretrain-mlm -> train-teacher (step, KFP component entry and compiled pipeline)."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from slimnlp import models, steps
from slimnlp.config import PretrainConfig, load_config
from slimnlp.pretrain import mlm
from slimnlp.pretrain.run import build_mlm_model, cache_key, encode_texts, pack_sentences, pretrain
from tests.helpers_models import TINY_TEXTS, tiny_tokenizer

TINY_PRETRAIN = PretrainConfig(
    vocab_size=200, num_layers=2, hidden_size=32, num_heads=2, intermediate_size=64, max_length=32,
    batch_size=8, max_steps=6, eval_every=3, log_every=1, checkpoint_every=2, eval_sentences=6,
)  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def _model(tokenizer, hidden: int = 32):
    torch.manual_seed(0)
    return build_mlm_model(tokenizer, PretrainConfig(num_layers=2, hidden_size=hidden, num_heads=2,
                                                         intermediate_size=64, dropout=0.1))  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Masking and loss


def test_masking_is_15_percent_with_80_10_10(tokenizer):
    ids = encode_texts(tokenizer, TINY_TEXTS * 40, 32)
    collator = mlm.mlm_collator(tokenizer, 0.15, seed=0)
    batch = collator([{"input_ids": x} for x in ids])
    original = torch.full_like(batch["input_ids"], tokenizer.pad_token_id)
    for row, seq in enumerate(ids):
        original[row, : len(seq)] = torch.tensor(seq)
    special = torch.isin(original, torch.tensor(tokenizer.all_special_ids))
    labelled = batch["labels"] != -100
    assert not (labelled & special).any()  # [CLS], [SEP], [PAD] are never masked
    assert batch["labels"][labelled].equal(original[labelled])
    assert labelled.sum() / (~special).sum() == pytest.approx(0.15, abs=0.01)
    masked = batch["input_ids"][labelled]
    as_mask = (masked == tokenizer.mask_token_id).float().mean()
    kept = (masked == original[labelled]).float().mean()
    assert as_mask == pytest.approx(0.8, abs=0.03)
    assert kept == pytest.approx(0.1 + 0.1 / len(tokenizer), abs=0.03)  # a random token may be the same
    assert 1 - as_mask - kept == pytest.approx(0.1, abs=0.03)
    # Dynamic padding: the batch is as wide as its longest sentence.
    assert batch["input_ids"].shape[1] == max(len(x) for x in ids)


def test_masked_only_loss_equals_the_full_loss(tokenizer):
    model = _model(tokenizer).eval()
    batch = mlm.mlm_collator(tokenizer, seed=1)(
        [{"input_ids": x} for x in encode_texts(tokenizer, TINY_TEXTS, 32)]
    )
    with torch.no_grad():
        assert float(mlm.mlm_loss(model, batch)) == pytest.approx(float(model(**batch).loss), rel=1e-5)


def test_batches_cover_every_sentence_once_with_less_padding():
    lengths = torch.randint(3, 64, (1000,), generator=torch.Generator().manual_seed(0))
    batches = mlm._batch_order(lengths, 16, epoch=0, seed=13)
    assert len(batches) == 63 and sorted(torch.cat(batches).tolist()) == list(range(1000))
    assert [b.tolist() for b in mlm._batch_order(lengths, 16, 0, 13)] == [b.tolist() for b in batches]
    assert mlm._batch_order(lengths, 16, 1, 13)[0].tolist() != batches[0].tolist()  # new epoch, new order

    def padded(order):
        return sum(int(lengths[b].max()) * len(b) for b in order)

    random_order = torch.randperm(1000, generator=torch.Generator().manual_seed(1)).split(16)
    assert padded(batches) < 0.8 * padded(random_order)


def test_schedule_warms_up_and_decays_by_steps_or_time():
    schedule = mlm.WarmupLinearDecay(max_steps=100, warmup_ratio=0.1, budget_s=None)
    assert [schedule(s) for s in (0, 5, 10, 55, 100)] == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0])
    timed = mlm.WarmupLinearDecay(max_steps=10_000, warmup_ratio=0.1, budget_s=100.0)
    timed.elapsed_s = 55.0  # time runs out long before the steps do
    assert timed(10) == pytest.approx(0.5)
    timed.elapsed_s = 100.0
    assert timed.progress(10) == 1.0 and timed(10) == 0.0


# --------------------------------------------------------------------------------------------------
# Checkpoints and resume


def _run(tokenizer, work, **kwargs):
    ids = encode_texts(tokenizer, TINY_TEXTS, 32)
    settings = mlm.MlmSettings(max_steps=8, batch_size=6, log_every=1, eval_every=4, checkpoint_every=2,
                               learning_rate=3e-3, warmup_ratio=0.25)  # fmt: skip
    model = kwargs.pop("model", None) or _model(tokenizer)
    return model, mlm.run_mlm(model, tokenizer, ids, ids[:6], settings, work, device="cpu", **kwargs)


def test_resume_after_interruption_continues_exactly(tokenizer, tmp_path):
    whole, expected = _run(tokenizer, tmp_path / "whole")

    def interrupt(step: int) -> None:
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tokenizer, tmp_path / "broken", on_step=interrupt)
    state = torch.load(tmp_path / "broken" / mlm.CHECKPOINT_DIR / mlm.STATE_FILE, weights_only=True)
    assert state["step"] == 5 and len(state["optimizer"]["state"]) > 0
    # A fresh process: new (differently initialised) model object, same work dir.
    torch.manual_seed(99)
    resumed_model, resumed = _run(tokenizer, tmp_path / "broken", model=_model(tokenizer))
    assert resumed["steps"] == expected["steps"] == 8
    assert resumed["tokens_seen"] == expected["tokens_seen"]
    losses = [r["train_loss"] for r in expected["history"] if "train_loss" in r]
    assert [r["train_loss"] for r in resumed["history"] if "train_loss" in r] == pytest.approx(
        losses, rel=1e-5
    )
    assert resumed["heldout_perplexity"] == pytest.approx(expected["heldout_perplexity"], rel=1e-5)
    for (name, a), b in zip(whole.state_dict().items(), resumed_model.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_checkpoint_from_another_architecture_is_refused(tokenizer, tmp_path):
    _run(tokenizer, tmp_path)
    with pytest.raises(
        mlm.PretrainError, match=r"another architecture \(hidden_size: checkpoint 32 vs config 64"
    ):
        _run(tokenizer, tmp_path, model=_model(tokenizer, hidden=64))


def test_pretrain_is_cached_by_its_inputs(tmp_path):
    key = cache_key(TINY_PRETRAIN, "corpus-a", TINY_TEXTS[:5], 13)
    assert key == cache_key(replace(TINY_PRETRAIN, log_every=7), "corpus-a", TINY_TEXTS[:5], 13)
    assert key != cache_key(TINY_PRETRAIN, "corpus-b", TINY_TEXTS[:5], 13)
    assert key != cache_key(TINY_PRETRAIN, "corpus-a", TINY_TEXTS[:6], 13)
    model_dir, first = pretrain(TINY_PRETRAIN, TINY_TEXTS * 3, TINY_TEXTS[:6], tmp_path / key, 13)
    assert first["cached"] is False and first["steps"] == 6
    assert (model_dir / "pretrain_curves.png").stat().st_size > 0
    _, second = pretrain(TINY_PRETRAIN, TINY_TEXTS * 3, TINY_TEXTS[:6], tmp_path / key, 13)
    assert second["cached"] is True and second["heldout_perplexity"] == first["heldout_perplexity"]


def test_packing_keeps_every_token_once_within_the_length():
    cls, sep = 101, 102
    ids = [[cls, 1, 2, sep], [cls, 3, sep], [cls, 4, 5, 6, 7, sep], [cls, sep], [cls], [cls, 8, sep]]
    packs = pack_sentences(ids, max_length=8)
    assert packs == [[cls, 1, 2, sep, 3, sep], [cls, 4, 5, 6, 7, sep, 8, sep]]  # empty sentences skipped
    assert pack_sentences([[cls, *range(1, 7), sep]], max_length=8) == [[cls, *range(1, 7), sep]]
    # every token of every non-empty sentence, in order, [CLS] once per pack
    assert [t for p in packs for t in p if t != cls] == [t for x in ids if len(x) > 2 for t in x[1:]]


def test_packed_pretraining_sees_the_same_tokens_in_fewer_sequences(tmp_path):
    packed = replace(TINY_PRETRAIN, pack_sentences=True)
    assert cache_key(packed, "c", [], 13) != cache_key(TINY_PRETRAIN, "c", [], 13)
    _, plain = pretrain(TINY_PRETRAIN, TINY_TEXTS * 3, [], tmp_path / "plain", 13)
    _, metrics = pretrain(packed, TINY_TEXTS * 3, [], tmp_path / "packed", 13)
    assert metrics["train_sentences"] == plain["train_sentences"]
    assert plain["train_sequences"] == plain["train_sentences"] == 66
    assert metrics["train_sequences"] < 0.7 * metrics["train_sentences"]  # 39 packs of <= 32 tokens
    assert metrics["heldout_sentences"] == plain["heldout_sentences"]  # perplexity on single sentences
    assert metrics["tokens_seen"] > plain["tokens_seen"]  # same steps, longer sequences


def test_pretraining_dropout_is_not_what_fine_tuning_inherits(tmp_path):
    no_dropout = replace(TINY_PRETRAIN, dropout=0.0, finetune_dropout=0.2)
    assert cache_key(no_dropout, "c", [], 13) != cache_key(TINY_PRETRAIN, "c", [], 13)
    model_dir, metrics = pretrain(no_dropout, TINY_TEXTS * 3, [], tmp_path / "p0", 13)
    _, with_dropout = pretrain(TINY_PRETRAIN, TINY_TEXTS * 3, [], tmp_path / "p1", 13)
    assert metrics["heldout_perplexity"] != with_dropout["heldout_perplexity"]  # pretrained without it
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved["hidden_dropout_prob"] == saved["attention_probs_dropout_prob"] == 0.2
    model, _ = models.load_checkpoint(str(model_dir), {0: "a", 1: "b"}, tmp_path / ".cache")
    assert model.config.hidden_dropout_prob == 0.2  # the teacher fine-tunes with it
    with pytest.raises(ValueError, match=r"finetune_dropout.*\[0, 1\), got 1.5"):
        PretrainConfig(finetune_dropout=1.5)


# --------------------------------------------------------------------------------------------------
# pretrain-mlm -> train-teacher


@pytest.fixture(scope="module")
def shc_like_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(TINY_TEXTS * 2), encoding="utf-8")
    overrides = [f"output_dir={root}", "name=p", f"tracking.tracking_uri=sqlite:///{root}/mlflow.db",
                 "tracking.codecarbon=false", f"pretrain.corpus=[{corpus}]", "data.max_train_rows=120",
                 "teacher.epochs=1", "teacher.max_length=32"]  # fmt: skip
    overrides += [
        f"pretrain.{k}={v}" for k, v in TINY_PRETRAIN.__dict__.items() if v is not None and k != "corpus"
    ]
    cfg = load_config(overrides=overrides)
    steps.prepare_data(cfg, root / "data")
    metrics = steps.pretrain_mlm(cfg, root / "data", root / "pretrained")
    return cfg, root, metrics


def test_pretrain_step_writes_a_model_dir_and_reuses_its_cache(shc_like_run):
    cfg, root, metrics = shc_like_run
    assert metrics["steps"] == 6 and metrics["cached"] is False and metrics["corpus_sentences"] == 48
    work = root / "pretrain-cache" / metrics["cache_key"]
    assert (work / "model" / "model.safetensors").is_file() and (work / "tokenizer").is_dir()
    assert not (work / mlm.CHECKPOINT_DIR).exists()  # finished: optimizer state dropped
    again = steps.pretrain_mlm(cfg, root / "data", root / "pretrained-again")
    assert again["cached"] is True and again["cache_key"] == metrics["cache_key"]
    assert (
        load_file(root / "pretrained" / "model.safetensors").keys()
        == load_file(root / "pretrained-again" / "model.safetensors").keys()
    )


def test_teacher_starts_from_the_pretrained_encoder(shc_like_run):
    from slimnlp.steps.entry import run_component

    cfg, root, _ = shc_like_run
    pretrained = load_file(root / "pretrained" / "model.safetensors")
    model, tokenizer = models.load_checkpoint(str(root / "pretrained"), {0: "a", 1: "b"}, root / ".cache")
    loaded = model.state_dict()
    encoder_keys = [
        k for k in pretrained if k.startswith("bert.encoder.") or k.startswith("bert.embeddings.word")
    ]
    assert encoder_keys and all(torch.equal(pretrained[k], loaded[k]) for k in encoder_keys)
    assert len(tokenizer) == json.loads((root / "pretrained" / "config.json").read_text())["vocab_size"]
    # The KFP component path: the optional `pretrained` input reaches train_teacher by keyword.
    headline = run_component("train-teacher", cfg.to_json(), "", "", str(root / "teacher"),
                             pretrained=str(root / "pretrained"), data=str(root / "data"))  # fmt: skip
    assert 0 <= headline["test_accuracy"] <= 1
    assert models.read_metrics(root / "teacher")["source"] == str(root / "pretrained")


def test_pipeline_has_the_step_only_when_enabled():
    from slimnlp_pipelines.compress import build_pipeline

    for enabled in (False, True):
        cfg = load_config("configs/pretrain-cpu.yaml", [f"pretrain.enabled={str(enabled).lower()}"])
        spec = build_pipeline(cfg).pipeline_spec
        tasks = spec.root.dag.tasks
        assert ("pretrain-mlm" in tasks) is enabled
        teacher_inputs = tasks["train-teacher"].inputs.artifacts
        if enabled:
            assert teacher_inputs["pretrained"].task_output_artifact.producer_task == "pretrain-mlm"
        else:
            assert "pretrained" not in teacher_inputs


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_amp_on_cuda_checkpoints_the_grad_scaler(tokenizer, tmp_path):
    ids = encode_texts(tokenizer, TINY_TEXTS, 32)
    settings = mlm.MlmSettings(max_steps=4, batch_size=8, log_every=1, eval_every=2, checkpoint_every=2)
    result = mlm.run_mlm(_model(tokenizer), tokenizer, ids, ids[:8], settings, tmp_path, device="cuda")
    assert result["precision"] == "fp16" and result["steps"] == 4
    state = torch.load(tmp_path / mlm.CHECKPOINT_DIR / mlm.STATE_FILE, weights_only=True)
    assert state["scaler"]["scale"] > 0 and state["rng_cuda"] is not None
    resumed = mlm.run_mlm(_model(tokenizer), tokenizer, ids, ids[:8], settings, tmp_path, device="cuda")
    assert resumed["steps"] == 4  # already done: nothing left to train
