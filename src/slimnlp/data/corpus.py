"""Unlabelled text for masked-LM pretraining and vocabulary transfer: read, check, hash.

    texts = read_corpus(["../shared/data/corpus/marathi.txt"])
    check_same_script(texts, task_texts, "corpus", "the task's training text")

A corpus is one or several `.txt` files (one sentence per line), `.csv` files (a text column),
directories of them, or `s3://` URIs of any of those. Every file must be UTF-8 and hold text; an
error names the file and, for a bad byte, the line.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from pathlib import Path

TEXT_SUFFIXES = (".txt", ".text")
CSV_SUFFIXES = (".csv", ".tsv")


class CorpusError(ValueError):
    """A corpus file is missing, empty, not UTF-8, or in the wrong script; the message names it."""


# --------------------------------------------------------------------------------------------------
# Finding and reading files


def corpus_files(sources: list[str], cache_dir: str | Path | None = None) -> list[Path]:
    """The files behind `sources` (files, directories, s3:// URIs), sorted within each directory."""
    if not sources:
        raise CorpusError(
            "no corpus given; pass one or more files or directories (pretrain.corpus / --corpus)"
        )
    files: list[Path] = []
    for source in sources:
        path = _local(source, cache_dir)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES + CSV_SUFFIXES
            )
            if not found:
                raise CorpusError(f"corpus directory {source} holds no .txt or .csv files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(
                f"corpus {source} does not exist; pass a .txt/.csv file, a directory or an s3:// URI"
            )
    return files


def _local(source: str, cache_dir: str | Path | None) -> Path:
    if not source.startswith("s3://"):
        return Path(source).expanduser()
    from slimnlp.mlops.storage import fetch

    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return Path(fetch(source, Path(cache_dir or ".slimnlp-corpus") / digest))


def read_text_file(path: Path) -> list[str]:
    """Non-empty, stripped lines of a UTF-8 text file; a bad byte is reported with its line number."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise CorpusError(
            f"{path} line {line} is not UTF-8 (byte {raw[err.start]:#04x} at offset {err.start}); "
            "re-save the file as UTF-8 (e.g. `iconv -f <encoding> -t utf-8`)"
        ) from None
    lines = [unicodedata.normalize("NFC", line.strip()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise CorpusError(f"{path} is empty (no non-blank lines); remove it from the corpus or fill it")
    return lines


def read_csv_file(path: Path, text_column: str) -> list[str]:
    """The non-empty values of `text_column` in a CSV/TSV file."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", encoding="utf-8", dtype=str)
    except UnicodeDecodeError as err:
        read_text_file(path)  # names the line
        raise CorpusError(f"{path} is not UTF-8: {err}") from None
    except pd.errors.EmptyDataError:
        raise CorpusError(f"{path} is empty; remove it from the corpus or fill it") from None
    if text_column not in frame.columns:
        raise CorpusError(
            f"{path} has no column {text_column!r} (columns: {list(frame.columns)}); set "
            "pretrain.text_column to the column holding the text"
        )
    texts = [unicodedata.normalize("NFC", str(t).strip()) for t in frame[text_column].dropna()]
    texts = [t for t in texts if t]
    if not texts:
        raise CorpusError(f"{path} column {text_column!r} holds no text")
    return texts


def read_corpus(
    sources: list[str], text_column: str = "text", cache_dir: str | Path | None = None
) -> list[str]:
    """All sentences of the corpus, in file order (NFC-normalised, blank lines dropped)."""
    texts: list[str] = []
    for path in corpus_files(sources, cache_dir):
        if path.suffix in CSV_SUFFIXES:
            texts.extend(read_csv_file(path, text_column))
        else:
            texts.extend(read_text_file(path))
    return texts


def corpus_hash(sources: list[str], cache_dir: str | Path | None = None) -> str:
    """sha256 over the names and bytes of the corpus files: a changed corpus gets a new hash."""
    digest = hashlib.sha256()
    for path in corpus_files(sources, cache_dir):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# Scripts


def script_of(char: str) -> str | None:
    """The Unicode script word of a letter (DEVANAGARI, LATIN, ...); None for non-letters."""
    if not unicodedata.category(char).startswith(("L", "M")):
        return None
    name = unicodedata.name(char, "")
    return name.split(" ")[0] if name else None


def dominant_script(texts: list[str], sample: int = 2000) -> tuple[str | None, float]:
    """The most common script among the letters of (a sample of) texts, and its share."""
    counts: Counter[str] = Counter()
    step = max(1, len(texts) // sample)
    for text in texts[::step]:
        counts.update(s for s in map(script_of, text) if s)
    if not counts:
        return None, 0.0
    script, count = counts.most_common(1)[0]
    return script, count / sum(counts.values())


def check_same_script(texts: list[str], reference: list[str], what: str, reference_what: str) -> str | None:
    """Raise when `texts` is mostly in another script than `reference`; returns the shared script."""
    script, _ = dominant_script(texts)
    expected, _ = dominant_script(reference)
    if script and expected and script != expected:
        raise CorpusError(
            f"{what} is mostly {script} script but {reference_what} is {expected}: a tokenizer and model "
            f"pretrained on it would not cover the task; use a {expected} corpus"
        )
    return script


def unknown_rate(tokenizer, texts: list[str], sample: int = 500) -> float:
    """Share of tokens the tokenizer maps to its unknown token, over a sample of texts."""
    unk = tokenizer.unk_token_id
    step = max(1, len(texts) // sample)
    # Whole texts, untruncated: the rate counts every token (verbose=False: no "longer than the
    # maximum length" warning, nothing here runs through the model).
    ids = tokenizer(texts[::step], add_special_tokens=False, verbose=False)["input_ids"]
    total = sum(len(x) for x in ids)
    return sum(x.count(unk) for x in ids) / total if total and unk is not None else 0.0


def check_tokenizer_covers(tokenizer, texts: list[str], what: str, max_unknown: float = 0.3) -> float:
    """Raise when the tokenizer maps more than `max_unknown` of the tokens of `texts` to unknown."""
    rate = unknown_rate(tokenizer, texts)
    if rate > max_unknown:
        script, _ = dominant_script(texts)
        raise CorpusError(
            f"the tokenizer maps {rate:.0%} of the tokens of {what} ({script or 'no'} script) to its "
            "unknown token: the text is in a script the tokenizer does not cover; train a tokenizer on "
            "this text (pretrain-mlm) or use a model whose vocabulary covers it"
        )
    return rate
