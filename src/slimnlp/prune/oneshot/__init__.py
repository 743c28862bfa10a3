"""Calibrated one-shot pruners (issue 16): no training loop, a few hundred unlabelled texts.

    slimnlp prune --config C --set prune.method=wanda --set prune.calibration.sources=[train]

`magnitude`, `wanda` and `sparsegpt` zero weights (unstructured or N:M, `unstructured.py`);
`structured_oneshot` removes heads and FFN neurons and refits what is left (`structured.py`). All
share the calibration stage (`calibration.py`) and the padding-free activation capture (`capture.py`);
`config.py` holds their sections and records (torch-free).
"""

from __future__ import annotations

from slimnlp.prune.lazy import lazy_names

# Where each public name lives; imported on first use (the code imports torch, the config does not).
_HOME = {
    "Calibration": "calibration",
    "CalibrationError": "calibration",
    "load_calibration": "calibration",
    "prune_layers": "unstructured",
    "prune_weight": "unstructured",
}

__getattr__ = lazy_names(__name__, _HOME)


__all__ = ["Calibration", "CalibrationError", "load_calibration", "prune_layers", "prune_weight"]
