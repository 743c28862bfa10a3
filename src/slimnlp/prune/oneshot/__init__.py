"""Calibrated one-shot pruners (issue 16): no training loop, a few hundred unlabelled texts.

    slimnlp prune --config C --set prune.method=wanda --set prune.calibration.sources=[train]

`magnitude`, `wanda` and `sparsegpt` zero weights (unstructured or N:M, `unstructured.py`);
`structured_oneshot` removes heads and FFN neurons and refits what is left (`structured.py`). All
share the calibration stage (`calibration.py`) and the padding-free activation capture (`capture.py`).
"""

from slimnlp.prune.oneshot import structured, unstructured  # noqa: F401  (registers the pruners)
from slimnlp.prune.oneshot.calibration import Calibration, CalibrationError, load_calibration
from slimnlp.prune.oneshot.unstructured import prune_layers, prune_weight

__all__ = ["Calibration", "CalibrationError", "load_calibration", "prune_layers", "prune_weight"]
