"""prepare-data: load, clean and split labelled text, and read the prepared splits back.

from slimnlp.data import prepare_data_files, read_split, read_label_map
report = prepare_data_files(cfg.data, "runs/x/data")
texts, labels = read_split("runs/x/data", "train")
train, dev, test, id2label = load_splits("runs/x/data")   # what the steps use (token ids cached)
"""

from slimnlp.data.artifacts import read_label_map, read_split
from slimnlp.data.errors import DataError
from slimnlp.data.prepare import prepare_data_files
from slimnlp.data.tokenise import load_splits

__all__ = ["DataError", "load_splits", "prepare_data_files", "read_label_map", "read_split"]
