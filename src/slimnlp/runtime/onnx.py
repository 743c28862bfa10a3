"""The one ONNX Runtime runner: an exported classifier (fp32 `model.onnx` or int8 `model.int8.onnx`,
the same class on a different file) with the tokenizer it was exported with, on CPU.

    from slimnlp.runtime.onnx import OnnxRunner
    runner = OnnxRunner("runs/x/onnx/model.onnx", "runs/x/onnx", threads=2, max_length=128)
    logits = runner.run(runner.encode(["भारताने सामना जिंकला"]))

Export's parity and accuracy checks, the benchmark and its memory probe all run ONNX models through
this class, so what export checks is what the benchmark measures. (The registered pyfunc,
`slimnlp.promote.serving`, keeps its own few lines of ORT: it must load where slimnlp is not installed.)

Threads: intra-op threads are pinned, inter-op is 1, execution sequential. ORT's intra-op threads
spin after every call by default. Serving one model that is what you want; in the benchmark the
spinning threads of idle sessions took the cores from the variant being timed (PyTorch measured 10x
slower right after ORT calls), so the benchmark builds its sessions with `spinning=False`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slimnlp.runtime.inputs import tokenize

SESSION_LEVEL = "all"
LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


class OnnxInputError(ValueError):
    """An ONNX file cannot be fed by a tokenizer (its inputs or outputs don't match)."""


def session_options(threads: int, level: str = SESSION_LEVEL, spinning: bool = True):
    """ORT session options: intra-op threads pinned, one graph optimisation level, and whether idle
    intra-op threads spin (ORT's default) or block."""
    import onnxruntime as ort

    if level not in LEVELS:
        raise ValueError(f"ORT optimisation level must be one of {sorted(LEVELS)}, got {level!r}")
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def onnx_file_bytes(path: str | Path) -> int:
    """Size on disk of an ONNX model, its external weights file (`<name>.data`) included."""
    path = Path(path)
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.is_file() else 0)


class OnnxRunner:
    """A text classifier served by ONNX Runtime on CPU.

    Args:
        onnx_path: An exported `model.onnx` / `model.int8.onnx` with a `logits` output.
        tokenizer_dir: Directory holding the tokenizer the model was exported with.
        threads: Intra-op threads of the ORT session (pinned).
        max_length: Texts are truncated to this many tokens.
        level: ORT graph optimisation level (disable, basic, extended, all).
        spinning: Let idle intra-op threads spin (ORT's default); False for the benchmark.
    """

    def __init__(
        self,
        onnx_path: str | Path,
        tokenizer_dir: str | Path,
        threads: int = 1,
        max_length: int = 128,
        level: str = SESSION_LEVEL,
        spinning: bool = True,
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"ONNX model {self.onnx_path} does not exist; run export-onnx first")
        options = session_options(threads, level, spinning)
        try:
            self.session = ort.InferenceSession(
                str(self.onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # ORT raises its own exception types for unreadable models
            raise ValueError(f"ONNX Runtime cannot load {self.onnx_path}: {err}; re-run export-onnx") from err
        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        self.max_length = max_length
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._check_signature(Path(tokenizer_dir))

    def _check_signature(self, tokenizer_dir: Path) -> None:
        given = set(self.tokenizer.model_input_names)
        outputs = [o.name for o in self.session.get_outputs()]
        if set(self.input_names) != given or "logits" not in outputs:
            raise OnnxInputError(
                f"{self.onnx_path} takes inputs {self.input_names} and outputs {outputs}, but the "
                f"tokenizer in {tokenizer_dir} gives {sorted(given)}; expected a 'logits' output and the "
                "same inputs. Use the tokenizer saved next to the ONNX file by export-onnx (or re-export "
                "with this one)."
            )

    def encode(self, texts: list[str], pad_to: int | None = None) -> dict[str, np.ndarray]:
        """int64 arrays of the graph's inputs (see `slimnlp.runtime.inputs.tokenize` for padding)."""
        return tokenize(self.tokenizer, texts, self.max_length, pad_to, tensors="np", names=self.input_names)

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Logits of one encoded batch."""
        return self.session.run(["logits"], feed)[0]
