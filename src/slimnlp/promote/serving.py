"""The registered model: an MLflow pyfunc that classifies raw text with the exported ONNX model.

    import mlflow, pandas as pd
    model = mlflow.pyfunc.load_model("models:/slimnlp-marathi-sample@champion")
    model.predict(pd.DataFrame({"text": ["भारताने क्रिकेट सामना जिंकला"]}))
    #    label  score  prob_sports  prob_business  ...

This file is logged as *model code* (MLflow "models from code"): MLflow stores it beside the model
and runs it at load time, so a model loads where slimnlp is not installed. It must therefore import
nothing from slimnlp; it needs numpy, pandas, onnxruntime and transformers (for the tokenizer),
which are the model's pip requirements. The artifact `onnx_dir` is an export-onnx output directory
cut to what serves: the ONNX file of the served variant (`serving.json` names it: `model.int8.onnx`
or `model.onnx`, `registry.serve_variant`), the tokenizer and `config.json` (id2label).

ONNX Runtime's providers come from the machine that loads the model, not the one that logged it:
CUDA first when onnxruntime offers `CUDAExecutionProvider` (onnxruntime-gpu with a GPU), else CPU.

    mlflow models serve -m models:/slimnlp-marathi-sample@champion --env-manager local -p 5001
    curl -s localhost:5001/invocations -H 'Content-Type: application/json' \
        -d '{"dataframe_split": {"columns": ["text"], "data": [["शेअर बाजार आज घसरला"]]}}'
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import mlflow
import numpy as np
import pandas as pd

# The signature (a string `text` column) validates inputs; MLflow's advice to use type hints for
# that instead would only repeat on every load.
warnings.filterwarnings("ignore", message=r"Add type hints to the `predict` method")

ONNX_FILE = "model.onnx"
SERVING_FILE = "serving.json"  # {"variant": "int8" | "fp32", "onnx_file": ...} beside the model
TEXT_COLUMN = "text"
BATCH_SIZE = 32


def choose_providers(available: list[str]) -> list[str]:
    """ONNX Runtime providers for this machine: CUDA first when onnxruntime offers it, then CPU."""
    preferred = ("CUDAExecutionProvider", "CPUExecutionProvider")
    return [p for p in preferred if p in available] or ["CPUExecutionProvider"]


def served_file(onnx_dir: str) -> dict[str, str]:
    """What `onnx_dir` serves: `serving.json` when packaged by slimnlp, else the fp32 model."""
    path = os.path.join(onnx_dir, SERVING_FILE)
    if not os.path.isfile(path):
        return {"variant": "fp32", "onnx_file": ONNX_FILE}
    with open(path, encoding="utf-8") as file:
        return json.load(file)


# The one allowed copy of the ONNX runner: the session, tokenising and `run -> logits` below repeat
# `slimnlp.runtime.onnx.OnnxRunner` in a few lines, because this file is MLflow model code and must
# load where slimnlp is not installed (so it cannot import it). Keep the two in step: same `logits`
# output, int64 inputs named as the graph's, padding to the longest text, the tokenizer's truncation.
class OnnxTextClassifier(mlflow.pyfunc.PythonModel):
    """Texts in, a label, its probability and one `prob_<label>` column per label out."""

    def load_context(self, context: Any) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        onnx_dir = context.artifacts["onnx_dir"]
        with open(os.path.join(onnx_dir, "config.json"), encoding="utf-8") as file:
            config = json.load(file)
        id2label = config["id2label"]
        self.labels = [id2label[str(i)] for i in range(len(id2label))]
        self.tokenizer = AutoTokenizer.from_pretrained(onnx_dir)
        # Any length up to the model's maximum: the tokenizer's length, capped at the position
        # embeddings (a hub tokenizer may say 1e30); longer texts are truncated there.
        positions = int(config.get("max_position_embeddings", 512))
        self.max_length = min(int(self.tokenizer.model_max_length or positions), positions)
        options = ort.SessionOptions()
        # A serving process may hold several models: keep each to the threads it is given.
        options.intra_op_num_threads = int(os.environ.get("SLIMNLP_SERVING_THREADS", "0"))
        self.served = served_file(onnx_dir)
        self.session = ort.InferenceSession(
            os.path.join(onnx_dir, self.served["onnx_file"]),
            options,
            providers=choose_providers(ort.get_available_providers()),
        )
        # What actually runs (a provider that failed to initialise is dropped by onnxruntime).
        self.providers = self.session.get_providers()
        self.input_names = [i.name for i in self.session.get_inputs()]

    # No type hints here: MLflow would read them as the model's input schema (the signature says it).
    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        """A DataFrame with `label`, `score` and `prob_<label>` per text (see `_texts` for inputs)."""
        texts = _texts(model_input)
        batches = [self._probabilities(texts[i : i + BATCH_SIZE]) for i in range(0, len(texts), BATCH_SIZE)]
        probabilities = np.concatenate(batches) if batches else np.zeros((0, len(self.labels)), np.float32)
        best = probabilities.argmax(-1)
        out = pd.DataFrame(
            {"label": [self.labels[i] for i in best], "score": probabilities[np.arange(len(texts)), best]}
        )
        for j, label in enumerate(self.labels):
            out[f"prob_{label}"] = probabilities[:, j]
        return out

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        # Truncation and max length come from the tokenizer saved at export (as in training).
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        feed = {name: enc[name].astype(np.int64) for name in self.input_names}
        logits = self.session.run(["logits"], feed)[0].astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(-1, keepdims=True)).astype(np.float32)


def _texts(model_input: Any) -> list[str]:
    """A DataFrame with a `text` column (or a single column), a Series, or a list of strings."""
    if isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN in model_input.columns:
            column = model_input[TEXT_COLUMN]
        elif len(model_input.columns) == 1:
            column = model_input.iloc[:, 0]
        else:
            raise ValueError(
                f"expected a DataFrame with a {TEXT_COLUMN!r} column, got columns {list(model_input.columns)}"
            )
        values = column.tolist()
    elif isinstance(model_input, pd.Series | np.ndarray | list | tuple):
        values = list(np.asarray(model_input, dtype=object).ravel())
    elif isinstance(model_input, str):
        values = [model_input]
    else:
        raise ValueError(
            f"expected texts (a DataFrame with a {TEXT_COLUMN!r} column), got {type(model_input)}"
        )
    bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
    if bad:
        raise ValueError(f"row {bad[0]} is not a text: {values[bad[0]]!r}; every row needs a string")
    return values


# MLflow runs this file under its own module name when it loads the model; importing it as
# slimnlp.promote.serving (for tests or the signature) must not register a model as a side effect.
if __name__ != "slimnlp.promote.serving":
    mlflow.models.set_model(OnnxTextClassifier())
