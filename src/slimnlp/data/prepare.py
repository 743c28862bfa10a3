"""prepare-data: load, clean, split and describe the labelled data.

    report = prepare_data_files(cfg.data, "runs/x/data")
    slimnlp prepare-data --config configs/mahanews-shc.yaml --out runs/x/data

1. resolve and download the files of each split (sources.py, folders.py); read them all through
   `datasets` into Arrow (readers.py) and check their columns before any cleaning, so a wrong
   path or column name stops the run at once
2. clean each split (cleaning.py rules in Arrow batches, rows.py), remove data.drop_labels, and
   stop if a split has no rows left or the training data has a single label
3. train/test overlap: report it; drop it from train and dev when data.drop_test_overlap
4. check every label has data.min_examples_per_label training rows (labels emptied by step 3 too)
5. hold out stratified test and dev splits when no file gives them; optional stratified subsets
6. write train/dev/test.arrow, label_map.json and data_report.json (artifacts.py)

Texts stay in memory-mapped Arrow files throughout; the whole-file rules work on hashes and label
codes kept in mapped files, one hash partition at a time (rows.py, spill.py), so the memory the step
holds does not grow with the rows (benchmarks/data_scale.py measures it).

The report says what every rule did, with examples; its flat numeric keys (`train_rows`,
`dropped_duplicates`, ...) are the step's metrics.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from slimnlp.config import DataConfig
from slimnlp.data import artifacts
from slimnlp.data.errors import DataError
from slimnlp.data.labels import canonical, check_label_spellings, normalize_label_counts
from slimnlp.data.readers import read_dataset
from slimnlp.data.rows import Rows, clean_rows, drop_label_rows, label_value_counts, overlap
from slimnlp.data.sources import SPLITS, Source, resolve_sources
from slimnlp.data.splits import (
    check_known_labels,
    check_min_examples,
    holdout_mask,
    subset_positions,
)

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
    """Write train/dev/test.arrow, label_map.json and data_report.json into out_dir; return the report.

    Args:
        cfg: the data section of the run config.
        out_dir: the step's output directory (created if needed).
        progress: show progress bars (downloads and stages).
    Raises:
        DataError: a missing file or column, an empty dataset, a label with too few examples, ...
    """
    import datasets

    quiet = not datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        return _prepare(cfg, Path(out_dir), progress)
    finally:
        if not progress and not quiet:
            datasets.enable_progress_bars()


def _prepare(cfg: DataConfig, out_dir: Path, progress: bool) -> dict[str, Any]:
    with (
        tqdm(total=5, desc="prepare-data", unit="stage", disable=not progress) as stages,
        tempfile.TemporaryDirectory(prefix="slimnlp-data-") as work_dir,
    ):
        work = Path(work_dir)
        stages.set_postfix_str("reading")
        sources = resolve_sources(cfg, work / "files", progress)
        tables = {
            split: read_dataset(
                list(s.paths), s.fmt, s.text_column, s.label_column, s.uri, work / "cache" / split, s.sheet
            )
            for split, s in sources.items()
        }
        report = _new_report(cfg, sources, tables)
        relabel = None
        if cfg.normalize_labels:
            counts = {split: label_value_counts(ds) for split, ds in tables.items()}
            relabel, report["labels_normalized"] = normalize_label_counts(counts)
            report["normalized_label_rows"] = sum(report["labels_normalized"]["rows_changed"].values())
        stages.update()
        stages.set_postfix_str("cleaning")
        clean = _clean_all(tables, sources, cfg, report, work, relabel)
        if not cfg.normalize_labels:
            check_label_spellings({split: _counts(rows) for split, rows in clean.items()}, sources)
        _check_several_labels(clean["train"], sources["train"].uri)
        stages.update()
        stages.set_postfix_str("overlap")
        train_labels = set(clean["train"].label_counts())
        clean = _handle_overlap(clean, cfg.drop_test_overlap, report)
        check_min_examples(
            _counts(clean["train"]),
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


def _counts(rows: Rows) -> pd.Series:
    """The kept rows' label counts, most frequent first (what `value_counts` of a label column gives)."""
    counts = pd.Series(rows.label_counts(), dtype=np.int64)
    return counts.sort_values(ascending=False, kind="stable")


def _check_several_labels(train: Rows, source: str) -> None:
    """A classifier needs two labels: one label left (in the file, or after cleaning) is an error."""
    labels = list(train.label_counts())
    if len(labels) == 1:
        raise DataError(
            f"{source}: every training row ({len(train)} after cleaning) has the label "
            f"{labels[0]!r}; a classifier needs at least two labels. Check "
            "data.label_column, or point data at a file with more than one label"
        )


def _new_report(cfg: DataConfig, sources: dict[str, Source], tables: dict[str, Any]) -> dict[str, Any]:
    files = {
        split: {
            "uri": s.uri,
            "format": s.fmt,
            "text_column": s.text_column,
            "label_column": s.label_column,
            "files": len(s.paths),
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
    tables: dict[str, Any],
    sources: dict[str, Source],
    cfg: DataConfig,
    report: dict[str, Any],
    work: Path,
    relabel: dict[str, str] | None,
) -> dict[str, Rows]:
    """Clean every split; sum each rule's counts into the report's flat keys."""
    clean = {}
    for split, table in tables.items():
        source = sources[split]
        clean[split] = clean_rows(
            table,
            source.text_column,
            source.label_column,
            cfg.repair_mojibake,
            cfg.drop_duplicates,
            work / "clean" / split,
            relabel,
        )
        report["cleaning"][split] = clean[split].report
        if not len(clean[split]):
            raise DataError(
                f"{source.uri}: no rows left after cleaning ({_what_was_dropped(report['cleaning'][split])}); "
                f"check that data.text_column ({source.text_column!r}) holds the texts"
            )
    for metric, rule, count in _RULE_METRICS:
        report[metric] = sum(rules[rule][count] for rules in report["cleaning"].values())
    return _drop_labels(clean, canonical(cfg.drop_labels, report.get("labels_normalized")), sources, report)


def _drop_labels(
    clean: dict[str, Rows], labels: list[str], sources: dict[str, Source], report: dict[str, Any]
) -> dict[str, Rows]:
    """Apply data.drop_labels; a listed label that no file has is a typo worth stopping for."""
    present = set().union(*(set(rows.label_counts()) for rows in clean.values()))
    unknown = sorted(set(labels) - present)
    if unknown:
        raise DataError(
            f"data.drop_labels lists {unknown}, which no file has (after cleaning); the labels "
            f"are {sorted(present)}"
        )
    for split in clean:
        clean[split], report["cleaning"][split]["drop_labels"] = drop_label_rows(clean[split], labels)
        if not len(clean[split]):
            raise DataError(f"{sources[split].uri}: data.drop_labels removed every row; drop fewer labels")
    report["dropped_by_drop_labels"] = sum(r["drop_labels"]["dropped"] for r in report["cleaning"].values())
    return clean


def _what_was_dropped(rules: dict[str, Any]) -> str:
    dropped = {rule: r["dropped"] for rule, r in rules.items() if r.get("dropped")}
    return ", ".join(f"{rule}: {n} dropped" for rule, n in dropped.items()) or "nothing was dropped"


def _handle_overlap(clean: dict[str, Rows], drop: bool, report: dict[str, Any]) -> dict[str, Rows]:
    """Report texts shared by the given files; drop test texts from train and dev when `drop`."""
    found = report["overlap"]
    found["drop_test_overlap"] = drop
    if "test" in clean:
        for split in ("train", "dev"):
            if split in clean:
                clean[split], found[f"{split}_test"] = overlap(clean[split], clean["test"], drop)
    if "dev" in clean:  # reported only: dev is for early stopping, a shared text there costs little
        _, found["train_dev"] = overlap(clean["train"], clean["dev"], drop=False)
    for pair in ("train_test", "dev_test", "train_dev"):
        report[f"{pair}_overlap"] = found.get(pair, {}).get("rows", 0)
    report["dropped_overlap"] = sum(
        found.get(pair, {}).get("dropped", 0) for pair in ("train_test", "dev_test")
    )
    for split in ("train", "dev"):
        if split in clean and not len(clean[split]):
            raise DataError(
                f"every {split} row also appears in the test file; the files look identical: "
                "check data.train_file / data.test_file"
            )
    return clean


def _complete_splits(
    clean: dict[str, Rows], cfg: DataConfig, train_source: str, report: dict[str, Any]
) -> dict[str, Rows]:
    """Hold out missing test/dev splits from train (stratified), then apply the row limits."""
    splits = dict(clean)
    origin = {split: "file" for split in clean}
    for split, fraction in (("test", cfg.test_fraction), ("dev", cfg.dev_fraction)):
        if split not in splits:
            train = splits["train"]
            held = holdout_mask(
                train.kept_codes(), train.categories, fraction, cfg.seed, split, train_source, train.disk
            )
            splits["train"], splits[split] = train.keep_mask(held, invert=True), train.keep_mask(held)
            origin[split] = f"held out of train ({split}_fraction={fraction})"
    limits = {"train": cfg.max_train_rows, "dev": cfg.max_dev_rows, "test": cfg.max_test_rows}
    report["dropped_by_row_limits"] = 0
    for split in SPLITS:
        rows = splits[split]
        before = len(rows)
        if limits[split] is not None and before > limits[split]:
            kept = subset_positions(
                rows.kept_codes(),
                rows.categories,
                limits[split],
                cfg.seed,
                f"data.max_{split}_rows",
                rows.disk,
            )
            splits[split] = rows.keep_positions(kept)
        report["dropped_by_row_limits"] += before - len(splits[split])
        report["splits"][split] = {
            "rows": len(splits[split]),
            "from": origin[split],
            "row_limit": limits[split],
            "rows_before_limit": before,
            "label_counts": splits[split].label_counts(),
        }
    return splits


def _check_split_labels(
    splits: dict[str, Rows], sources: dict[str, Source], unseen: str, report: dict[str, Any]
) -> dict[str, Rows]:
    """Dev/test labels the training split lacks: an error, or (data.unseen_labels: drop) dropped and counted."""
    known = set(splits["train"].label_counts())
    train_source = sources["train"].uri
    report["unseen_labels"], report["dropped_unseen_labels"] = {}, 0
    for split in ("dev", "test"):
        source = sources[split].uri if split in sources else train_source
        if unseen == "drop":  # data.unseen_labels: drop
            rows = splits[split]
            unseen_rows = rows.with_labels(set(rows.label_counts()) - known)
            dropped = rows.label_counts(unseen_rows)
            splits[split] = rows.keep_mask(unseen_rows, invert=True)
            report["unseen_labels"][split] = dropped
            report["dropped_unseen_labels"] += sum(dropped.values())
            report["splits"][split].update(
                rows=len(splits[split]),
                label_counts=splits[split].label_counts(),
                dropped_unseen_labels=dropped,
            )
            if not len(splits[split]):
                raise DataError(
                    f"{source}: every {split} row has a label the training data lacks "
                    f"(training labels: {sorted(known)[:20]})"
                )
        check_known_labels(_counts(splits[split]), known, split, source, train_source)
    return splits


def _write_outputs(out_dir: Path, splits: dict[str, Rows], report: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    label2id = artifacts.write_label_map(out_dir, sorted(splits["train"].label_counts()))
    for split in SPLITS:
        artifacts.write_split(out_dir, split, splits[split].dataset(), label2id)
        report[f"{split}_rows"] = len(splits[split])
    report["num_labels"] = len(label2id)
    report["labels"] = list(label2id)
    report["data_sha256"] = artifacts.data_hash(out_dir)
    artifacts.write_report(out_dir, report)
