"""One of the N processes of a component step under torchrun (`slimnlp.training.distributed.run_component_processes`).

    python -m torch.distributed.run --standalone --nproc_per_node 4 -m slimnlp.steps.component_worker request.json

request.json: {"step": ..., "kwargs": {run_component's arguments}, "result": where rank 0 writes the metrics}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from slimnlp.steps.entry import run_component
from slimnlp.training.distributed import is_main_process


def main(request_file: str) -> None:
    spec = json.loads(Path(request_file).read_text(encoding="utf-8"))
    result = run_component(spec["step"], **spec["kwargs"])
    if is_main_process():
        Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
