"""Corpus reading and the bad inputs of pretraining: empty, non-UTF-8, wrong script, vocabulary too big."""

import pytest

from slimnlp.data.corpus import (
    CorpusError,
    check_same_script,
    check_tokenizer_covers,
    corpus_hash,
    dominant_script,
    read_corpus,
)
from slimnlp.pretrain.mlm import PretrainError
from slimnlp.pretrain.run import train_tokenizer
from tests.helpers_models import TINY_TEXTS, tiny_tokenizer

ENGLISH = ["the market fell today", "the team won the match", "a new film was released"] * 5


def test_text_files_csv_and_directories(tmp_path):
    (tmp_path / "a.txt").write_text("पहिले वाक्य\n\n  दुसरे वाक्य  \n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,body\n1,तिसरे वाक्य\n2,\n3,चौथे वाक्य\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    assert read_corpus([str(tmp_path / "a.txt")]) == ["पहिले वाक्य", "दुसरे वाक्य"]
    # A directory: every .txt and .csv inside, in name order; blank lines and empty cells dropped.
    texts = read_corpus([str(tmp_path)], text_column="body")
    assert texts == ["पहिले वाक्य", "दुसरे वाक्य", "तिसरे वाक्य", "चौथे वाक्य"]
    # Several sources are concatenated.
    assert len(read_corpus([str(tmp_path / "a.txt"), str(tmp_path / "a.txt")])) == 4


def test_text_is_nfc_normalised(tmp_path):
    decomposed = "\u0928\u093c"  # NA + NUKTA, which NFC composes into NNNA (U+0929)
    (tmp_path / "a.txt").write_text(decomposed + "\n", encoding="utf-8")
    assert read_corpus([str(tmp_path / "a.txt")]) == ["\u0929"]


def test_empty_file_is_named(tmp_path):
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"empty\.txt is empty"):
        read_corpus([str(tmp_path / "empty.txt")])


def test_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("line one\nline two\ncaf\u00e9 three\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1\.txt line 3 is not UTF-8"):
        read_corpus([str(path)])


def test_missing_csv_column_and_missing_path(tmp_path):
    (tmp_path / "c.csv").write_text("Text,Label\nअ,1\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"no column 'text'.*\['Text', 'Label'\].*pretrain.text_column"):
        read_corpus([str(tmp_path / "c.csv")])
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus([str(tmp_path / "nope.txt")])
    with pytest.raises(CorpusError, match="no .txt or .csv"):
        (tmp_path / "emptydir").mkdir()
        read_corpus([str(tmp_path / "emptydir")])


def test_hash_follows_the_bytes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("एक\n", encoding="utf-8")
    first = corpus_hash([str(path)])
    assert corpus_hash([str(path)]) == first
    path.write_text("दोन\n", encoding="utf-8")
    assert corpus_hash([str(path)]) != first


def test_wrong_script_is_refused():
    assert dominant_script(TINY_TEXTS)[0] == "DEVANAGARI"
    assert check_same_script(TINY_TEXTS[:10], TINY_TEXTS[10:], "corpus", "task") == "DEVANAGARI"
    with pytest.raises(CorpusError, match="corpus is mostly LATIN script but task text is DEVANAGARI"):
        check_same_script(ENGLISH, TINY_TEXTS, "corpus", "task text")


def test_tokenizer_that_does_not_cover_the_text():
    tokenizer = tiny_tokenizer()  # trained on Devanagari only
    assert check_tokenizer_covers(tokenizer, TINY_TEXTS, "Marathi") < 0.05
    with pytest.raises(CorpusError, match=r"maps \d+% of the tokens of English text \(LATIN script\)"):
        check_tokenizer_covers(tokenizer, ENGLISH, "English text")


def test_vocabulary_larger_than_the_corpus_supports():
    tokenizer = train_tokenizer(TINY_TEXTS, 150, 32)
    assert len(tokenizer) == 150
    with pytest.raises(
        PretrainError, match=r"pretrain.vocab_size=5000 is larger than .* set pretrain.vocab_size <= \d+"
    ):
        train_tokenizer(TINY_TEXTS, 5000, 32)


def test_s3_file_and_prefix(s3_env, tmp_path):
    bucket = s3_env.create_bucket("corpus")
    client = s3_env.client()
    client.put_object(Bucket=bucket, Key="mr/a.txt", Body="पहिले वाक्य\nदुसरे वाक्य\n".encode())
    client.put_object(Bucket=bucket, Key="mr/b.txt", Body="तिसरे वाक्य\n".encode())
    cache = tmp_path / "cache"
    assert read_corpus([f"s3://{bucket}/mr/b.txt"], cache_dir=cache) == ["तिसरे वाक्य"]
    assert len(read_corpus([f"s3://{bucket}/mr/"], cache_dir=cache)) == 3  # a prefix is a directory
    assert corpus_hash([f"s3://{bucket}/mr/"], cache) == corpus_hash([f"s3://{bucket}/mr/"], cache)
