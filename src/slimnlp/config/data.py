"""prepare-data: where the data files are, their columns, cleaning and splitting."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help, _require

FILE_FORMATS = ("auto", "csv", "tsv", "jsonl", "json", "parquet", "arrow", "xlsx", "xls")


@dataclass(frozen=True)
class DataConfig(Section):
    dir: str | None = _help(
        "Directory holding the data files; relative file names below resolve against it. "
        "Env var SLIMNLP_DATA_DIR overrides it. None with no files = the shipped Marathi sample.",
        None,
    )
    train_file: str | None = _help("Training file (path, s3://, http(s):// or hf://dataset).", None)
    config: str | None = _help(
        "The dataset's config (subset) when data.dir is a Hub dataset (hub:owner/name) or a folder in the "
        "Hub's layout: the README's `configs:` entry, or the folder of that name (default/train/0000.parquet).",
        None,
    )
    revision: str | None = _help("Hub dataset revision: a branch, tag or commit (None = main).", None)
    splits: dict[str, str] | None = _help(
        "Which of the dataset's splits is our train/dev/test, e.g. {train: train, dev: validation, test: "
        "test}; a split left out is held out of train (stratified). None = found by name (train; "
        "validation/valid/val/dev; test).",
        None,
    )
    sheet: str | None = _help("Excel workbooks: the sheet to read (None = the first).", None)
    dev_file: str | None = _help("Dev file; split off train (stratified) when absent.", None)
    test_file: str | None = _help("Test file; split off train (stratified) when absent.", None)
    text_column: str = _help("Column holding the text.", "text")
    label_column: str = _help("Column holding the label.", "label")
    file_format: str = _help(
        "auto, csv, tsv, jsonl (json), parquet, arrow, xlsx or xls.", "auto", choices=FILE_FORMATS
    )
    dev_fraction: float = _help(
        "Fraction of train held out as dev when no dev file is given.", 0.1, gt=0, lt=0.5
    )
    test_fraction: float = _help("Fraction held out as test when no test file is given.", 0.2, gt=0, lt=0.5)
    drop_test_overlap: bool = _help("Drop train/dev rows whose text is also in test.", True)
    drop_duplicates: bool = _help(
        "Drop repeated rows (same text and label) in every file. False keeps the files as published, "
        "repeats included, so test figures compare with reports scored on the published test file; "
        "every model step and the benchmark then also report test figures over distinct texts.",
        True,
    )
    drop_labels: list[str] = _help(
        "Labels whose rows are removed from every split (e.g. a class that is all duplicates).", factory=list
    )
    normalize_labels: bool = _help(
        "Treat labels that differ only in case, whitespace or number format (Respect / respect, "
        "'1' / '1.0') as one label, spelled as its most frequent spelling over all files (reported "
        "under labels_normalized). False stops with an error naming the differing labels.",
        False,
    )
    unseen_labels: str = _help(
        "A dev/test label the training data lacks: error (stop, naming it) or drop (remove those rows; "
        "counted in the data report as dropped_unseen_labels).",
        "error",
        choices=("error", "drop"),
    )
    repair_mojibake: bool = _help(
        "Repair Devanagari decoded as cp866 when the repair round-trips (such rows are dropped when it "
        "does not, or when this is false).",
        True,
    )
    max_train_rows: int | None = _help("Keep at most this many training rows (stratified).", None, ge=1)
    max_dev_rows: int | None = _help("Keep at most this many dev rows (stratified).", None, ge=1)
    max_test_rows: int | None = _help("Keep at most this many test rows (stratified).", None, ge=1)
    min_examples_per_label: int = _help("A label with fewer training examples is an error.", 2, ge=1)
    seed: int = _help("Seed for splits and subsets.", 13, ge=0, lt=2**32)

    def check(self) -> None:
        ours = ("train", "dev", "test")
        _require(
            self.splits is None or (set(self.splits) <= set(ours) and "train" in self.splits),
            "splits",
            f"keys must be among {list(ours)} and include train, got {self.splits}",
        )
