"""Build the NAS space's zero-layer point from a finished run's teacher and data (issue 27), for runs
made before `prune.nas.pooled_point` existed, or to compare its two starts.

    python benchmarks/zero_layer.py --config configs/nas-mahasent.yaml --run runs/nas-mahasent \
        --out runs/zero-layer/nas-mahasent [--init teacher-output] [--set prune.nas.pooled_epochs=6]
    python benchmarks/peers.py --config configs/nas-mahasent.yaml --run runs/nas-mahasent \
        --zero-layer runs/zero-layer/nas-mahasent/teacher-output --reuse     # timed beside the peers

The point is what the prune step builds (`slimnlp.prune.nas.pooled.train_pooled_point`, the config's
prune.nas section, the step's split of dev into search and selection rows): mean-pooled token
vectors + the teacher's head, distilled from the teacher's logits on the training texts. Prints its
accuracy on the selection rows and on test against the teacher (paired, with bounds) and writes each
start's model directory (with metrics.json) under --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.rundirs import find_run_dirs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from slimnlp.benchmark.paired import correct, paired_difference
    from slimnlp.config import load_config
    from slimnlp.data import read_split
    from slimnlp.models import load_model_dir, max_length_of, save_model_dir
    from slimnlp.prune.nas.pooled import train_pooled_point
    from slimnlp.prune.nas.rows import dev_parts
    from slimnlp.training.batches import predict_logits

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--run", type=Path, required=True, help="a run directory with prepared data and a teacher")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--init", default="teacher-output,embeddings", help="comma-separated starts to build")
    p.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (repeatable)")
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.set)
    dirs = find_run_dirs(args.run)
    teacher, tokenizer = load_model_dir(dirs["teacher"])
    length = max_length_of(tokenizer)
    train, dev, test = (read_split(dirs["data"], s) for s in ("train", "dev", "test"))
    search_dev, selection_dev = dev_parts(dev, cfg.prune.nas.selection_fraction, cfg.seed)
    teacher_logits = predict_logits(teacher, tokenizer, train[0], length)
    reference = {
        name: correct(predict_logits(teacher, tokenizer, rows[0], length).argmax(-1).numpy(), rows[1])
        for name, rows in (("selection", selection_dev), ("test", test))
    }
    print(
        f"teacher: selection {reference['selection'].mean():.4f} ({len(selection_dev[0])} rows), "
        f"test {reference['test'].mean():.4f} ({len(test[0])} rows)"
    )
    rows = []
    for init in args.init.split(","):
        section = dataclasses.replace(cfg.prune.nas, pooled_init=init)
        start = time.perf_counter()
        point = train_pooled_point(
            teacher, tokenizer, train, search_dev, section, max_length=length, seed=cfg.seed,
            teacher_logits=teacher_logits,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        figures = {"init": init, "wall_time_s": seconds, "search_accuracy": point.search_accuracy}
        for name, split in (("selection", selection_dev), ("test", test)):
            right = correct(
                predict_logits(point.model, tokenizer, split[0], length).argmax(-1).numpy(), split[1]
            )
            paired = paired_difference(right, reference[name], confidence=section.confidence)
            figures[f"{name}_accuracy"] = float(right.mean())
            figures[f"{name}_vs_teacher"] = paired.to_dict()
        figures["history"] = point.history
        save_model_dir(point.model, tokenizer, args.out / init, metrics=figures)
        rows.append(figures)
        print(
            f"{init}: {seconds:.0f} s; search {point.search_accuracy:.4f}; selection "
            f"{figures['selection_accuracy']:.4f}; test {figures['test_accuracy']:.4f}, vs teacher "
            f"{paired.describe()}"
        )
    (args.out / "zero_layer.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
