"""The PyTorch runner: a classifier and its tokenizer behind the same encode/run interface as ORT's.

    from slimnlp.runtime.torch import TorchRunner
    runner = TorchRunner.from_dir("runs/x/student", max_length=128)
    logits = runner.run(runner.encode(["भारताने सामना जिंकला"]))

`import torch` below is the library, not this module: imports in this package are absolute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.runtime.inputs import tokenize


class TorchRunner:
    """A PyTorch sequence classifier run in inference mode on CPU (the model is put in eval mode).

    Args:
        model: A Hugging Face sequence-classification model.
        tokenizer: Its tokenizer.
        max_length: Texts are truncated to this many tokens.
    """

    def __init__(self, model: Any, tokenizer: Any, max_length: int) -> None:
        self.model, self.tokenizer, self.max_length = model.eval(), tokenizer, max_length

    @classmethod
    def from_dir(cls, model_dir: str | Path, max_length: int) -> TorchRunner:
        """The model directory's model and tokenizer (structurally pruned layouts included)."""
        from slimnlp.models import load_model_dir

        model, tokenizer = load_model_dir(model_dir)
        return cls(model, tokenizer, max_length)

    def encode(self, texts: list[str], pad_to: int | None = None) -> dict[str, Any]:
        """Tensors padded to the longest text (truncated at max_length), or to exactly `pad_to`."""
        return tokenize(self.tokenizer, texts, self.max_length, pad_to, tensors="pt")

    def run(self, feed: dict[str, Any]) -> np.ndarray:
        """float32 logits of one encoded batch."""
        import torch

        with torch.inference_mode():
            return self.model(**feed).logits.float().numpy()


def torch_feed(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """ORT's numpy inputs as tensors sharing their memory: both runtimes get exactly the same ids."""
    import torch

    return {name: torch.from_numpy(array) for name, array in arrays.items()}
