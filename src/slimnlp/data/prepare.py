"""prepare-data: load, clean, split and describe the labelled data.

    report = prepare_data_files(cfg.data, "runs/x/data")
    slimnlp prepare-data --config configs/mahanews-shc.yaml --out runs/x/data

1. resolve and download one file per split (sources.py); read them all and check their columns
   before any cleaning, so a wrong path or column name stops the run at once
2. clean each file (cleaning.py), remove data.drop_labels, and stop if a file has no rows left
3. train/test overlap: report it; drop it from train and dev when data.drop_test_overlap
4. check every label has data.min_examples_per_label training rows (labels emptied by step 3 too)
5. hold out stratified test and dev splits when no file gives them; optional stratified subsets
6. write train/dev/test.jsonl, label_map.json and data_report.json (artifacts.py)

The report says what every rule did, with examples; its flat numeric keys (`train_rows`,
`dropped_duplicates`, ...) are the step's metrics.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from slimnlp.config import DataConfig
from slimnlp.data import artifacts
from slimnlp.data.cleaning import clean_table, drop_labels, drop_overlap
from slimnlp.data.errors import DataError
from slimnlp.data.labels import canonical, check_label_spellings, drop_unseen_labels, normalize_labels
from slimnlp.data.sources import SPLITS, Source, resolve_sources
from slimnlp.data.splits import (
    check_known_labels,
    check_min_examples,
    label_counts,
    split_off,
    stratified_subset,
)
from slimnlp.data.tables import read_table

# Flat report keys summed over files: (metric name, cleaning rule, count in that rule's report).
_RULE_METRICS = [
    ("dropped_header_rows", "header_rows", "dropped"),
    ("repaired_mojibake", "mojibake", "repaired"),
    ("dropped_mojibake", "mojibake", "dropped"),
    ("normalized_nfc", "unicode", "nfc_changed"),
    ("stripped_whitespace", "unicode", "stripped"),
    ("dropped_empty", "empty", "dropped"),
    ("dropped_duplicates", "duplicates", "dropped"),
    ("repeated_rows", "duplicates", "repeated"),
    ("dropped_conflicting", "conflicting_labels", "dropped"),
]


def prepare_data_files(cfg: DataConfig, out_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Write train/dev/test.jsonl, label_map.json and data_report.json into out_dir; return the report.

    Args:
        cfg: the data section of the run config.
        out_dir: the step's output directory (created if needed).
        progress: show progress bars (downloads and stages).
    Raises:
        DataError: a missing file or column, an empty dataset, a label with too few examples, ...
    """
    out_dir = Path(out_dir)
    with tqdm(total=5, desc="prepare-data", unit="stage", disable=not progress) as stages:
        stages.set_postfix_str("reading")
        with tempfile.TemporaryDirectory(prefix="slimnlp-data-") as work:
            sources = resolve_sources(cfg, Path(work), progress)
            tables = {
                split: read_table(s.path, s.fmt, s.text_column, s.label_column, s.uri)
                for split, s in sources.items()
            }
        report = _new_report(cfg, sources, tables)
        if cfg.normalize_labels:
            tables, report["labels_normalized"] = normalize_labels(tables)
            report["normalized_label_rows"] = sum(report["labels_normalized"]["rows_changed"].values())
        stages.update()
        stages.set_postfix_str("cleaning")
        clean = _clean_all(tables, sources, cfg, report)
        if not cfg.normalize_labels:
            check_label_spellings(clean, sources)
        stages.update()
        stages.set_postfix_str("overlap")
        train_labels = set(clean["train"]["label"])
        clean = _handle_overlap(clean, cfg.drop_test_overlap, report)
        check_min_examples(
            clean["train"],
            cfg.min_examples_per_label,
            sources["train"].uri,
            train_labels,
            report["overlap"].get("train_test", {}).get("dropped_per_label"),
        )
        stages.update()
        stages.set_postfix_str("splitting")
        splits = _complete_splits(clean, cfg, sources["train"].uri, report)
        splits = _check_split_labels(splits, sources, cfg.unseen_labels, report)
        stages.update()
        stages.set_postfix_str("writing")
        _write_outputs(out_dir, splits, report)
        stages.update()
    return report


def _new_report(
    cfg: DataConfig, sources: dict[str, Source], tables: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    files = {
        split: {
            "uri": s.uri,
            "format": s.fmt,
            "text_column": s.text_column,
            "label_column": s.label_column,
            "rows_read": len(tables[split]),
        }
        for split, s in sources.items()
    }
    return {
        "config": dataclasses.asdict(cfg),
        "sources": {split: s.uri for split, s in sources.items()},
        "files": files,
        "rows_read": sum(len(t) for t in tables.values()),
        "cleaning": {},
        "overlap": {},
        "splits": {},
    }


def _clean_all(
    tables: dict[str, pd.DataFrame], sources: dict[str, Source], cfg: DataConfig, report: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Clean every file; sum each rule's counts into the report's flat keys."""
    clean = {}
    for split, table in tables.items():
        source = sources[split]
        clean[split], report["cleaning"][split] = clean_table(
            table, source.text_column, source.label_column, cfg.repair_mojibake, cfg.drop_duplicates
        )
        if clean[split].empty:
            raise DataError(
                f"{source.uri}: no rows left after cleaning ({_what_was_dropped(report['cleaning'][split])}); "
                f"check that data.text_column ({source.text_column!r}) holds the texts"
            )
    for metric, rule, count in _RULE_METRICS:
        report[metric] = sum(rules[rule][count] for rules in report["cleaning"].values())
    return _drop_labels(clean, canonical(cfg.drop_labels, report.get("labels_normalized")), sources, report)


def _drop_labels(
    clean: dict[str, pd.DataFrame], labels: list[str], sources: dict[str, Source], report: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Apply data.drop_labels; a listed label that no file has is a typo worth stopping for."""
    present = set().union(*(set(table["label"]) for table in clean.values()))
    unknown = sorted(set(labels) - present)
    if unknown:
        raise DataError(
            f"data.drop_labels lists {unknown}, which no file has (after cleaning); the labels "
            f"are {sorted(present)}"
        )
    for split in clean:
        clean[split], report["cleaning"][split]["drop_labels"] = drop_labels(clean[split], labels)
        if clean[split].empty:
            raise DataError(f"{sources[split].uri}: data.drop_labels removed every row; drop fewer labels")
    report["dropped_by_drop_labels"] = sum(r["drop_labels"]["dropped"] for r in report["cleaning"].values())
    return clean


def _what_was_dropped(rules: dict[str, Any]) -> str:
    dropped = {rule: r["dropped"] for rule, r in rules.items() if r.get("dropped")}
    return ", ".join(f"{rule}: {n} dropped" for rule, n in dropped.items()) or "nothing was dropped"


def _handle_overlap(
    clean: dict[str, pd.DataFrame], drop: bool, report: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Report texts shared by the given files; drop test texts from train and dev when `drop`."""
    overlap = report["overlap"]
    overlap["drop_test_overlap"] = drop
    if "test" in clean:
        test_texts = set(clean["test"]["text"])
        for split in ("train", "dev"):
            if split in clean:
                clean[split], overlap[f"{split}_test"] = drop_overlap(clean[split], test_texts, drop)
    if "dev" in clean:  # reported only: dev is for early stopping, a shared text there costs little
        _, overlap["train_dev"] = drop_overlap(clean["train"], set(clean["dev"]["text"]), drop=False)
    for pair in ("train_test", "dev_test", "train_dev"):
        report[f"{pair}_overlap"] = overlap.get(pair, {}).get("rows", 0)
    report["dropped_overlap"] = sum(
        overlap.get(pair, {}).get("dropped", 0) for pair in ("train_test", "dev_test")
    )
    for split in ("train", "dev"):
        if split in clean and clean[split].empty:
            raise DataError(
                f"every {split} row also appears in the test file; the files look identical: "
                "check data.train_file / data.test_file"
            )
    return clean


def _complete_splits(
    clean: dict[str, pd.DataFrame], cfg: DataConfig, train_source: str, report: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Hold out missing test/dev splits from train (stratified), then apply the row limits."""
    splits = dict(clean)
    origin = {split: "file" for split in clean}
    if "test" not in splits:
        splits["train"], splits["test"] = split_off(
            splits["train"], cfg.test_fraction, cfg.seed, "test", train_source
        )
        origin["test"] = f"held out of train (test_fraction={cfg.test_fraction})"
    if "dev" not in splits:
        splits["train"], splits["dev"] = split_off(
            splits["train"], cfg.dev_fraction, cfg.seed, "dev", train_source
        )
        origin["dev"] = f"held out of train (dev_fraction={cfg.dev_fraction})"
    limits = {"train": cfg.max_train_rows, "dev": cfg.max_dev_rows, "test": cfg.max_test_rows}
    report["dropped_by_row_limits"] = 0
    for split in SPLITS:
        before = len(splits[split])
        splits[split] = stratified_subset(splits[split], limits[split], cfg.seed, f"data.max_{split}_rows")
        report["dropped_by_row_limits"] += before - len(splits[split])
        report["splits"][split] = {
            "rows": len(splits[split]),
            "from": origin[split],
            "row_limit": limits[split],
            "rows_before_limit": before,
            "label_counts": label_counts(splits[split]),
        }
    return splits


def _check_split_labels(
    splits: dict[str, pd.DataFrame], sources: dict[str, Source], unseen: str, report: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Dev/test labels the training split lacks: an error, or (data.unseen_labels: drop) dropped and counted."""
    known = set(splits["train"]["label"])
    train_source = sources["train"].uri
    report["unseen_labels"], report["dropped_unseen_labels"] = {}, 0
    for split in ("dev", "test"):
        source = sources[split].uri if split in sources else train_source
        if unseen == "drop":
            splits[split], dropped = drop_unseen_labels(splits[split], known)
            report["unseen_labels"][split] = dropped
            report["dropped_unseen_labels"] += sum(dropped.values())
            report["splits"][split].update(
                rows=len(splits[split]),
                label_counts=label_counts(splits[split]),
                dropped_unseen_labels=dropped,
            )
            if splits[split].empty:
                raise DataError(
                    f"{source}: every {split} row has a label the training data lacks "
                    f"(training labels: {sorted(known)[:20]})"
                )
        check_known_labels(splits[split], known, split, source, train_source)
    return splits


def _write_outputs(out_dir: Path, splits: dict[str, pd.DataFrame], report: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    label2id = artifacts.write_label_map(out_dir, sorted(set(splits["train"]["label"])))
    for split in SPLITS:
        artifacts.write_split(out_dir, split, splits[split], label2id)
        report[f"{split}_rows"] = len(splits[split])
    report["num_labels"] = len(label2id)
    report["labels"] = list(label2id)
    report["data_sha256"] = artifacts.data_hash(out_dir)
    artifacts.write_report(out_dir, report)
