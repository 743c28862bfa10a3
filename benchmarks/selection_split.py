"""Which share of dev should select (issue 29): replay the NAS choice on one run's checked front for
several `prune.nas.selection_fraction` values and many random splits, and count how often the pick
keeps the promise on test.

    python benchmarks/selection_split.py --config configs/nas-mahasent.yaml --run runs/nas-mahasent \
        [--fractions 0,0.25,0.5,0.75] [--splits 400]

For each front point of the run (sliced from its saved super-network, the zero-layer one from
pooled/ when saved) and the teacher, every dev and test row is scored once. Then, per fraction and
split seed, the selection rows are drawn as the prune step draws them (`slimnlp.prune.nas.rows`:
0 = all of dev selects, the old behaviour) and `fastest_within` picks the fastest point whose paired
lower bound clears the budget at prune.nas.confidence (the step's rule). Reported per fraction:
how often a point is picked, how often the pick holds the budget on test (paired difference >=
-budget), the median test difference and speed-up of the picks.

What it measures is the selection side only: the front and the shared weights are the run's, so it
does not show what fewer search rows do to the search and to early stopping; nor recovery (the
picks are scored with the super-network's weights, as the prune step scores them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.rundirs import find_run_dirs, newest  # noqa: E402


def replay(points, teacher, fraction: float, seeds: range, budget: float, confidence: float, batch: int):
    """One row of the table: the picks of `fastest_within` over `seeds` splits at `fraction`."""
    import numpy as np

    from slimnlp.benchmark.paired import paired_difference
    from slimnlp.prune.nas.rows import split_dev

    by_speed = sorted(points, key=lambda p: p[f"measured_ms_b{batch}"])
    picks, held, deltas, speedups = Counter(), 0, [], []
    rows = len(teacher["dev"])
    for seed in seeds:
        _, selection = split_dev(rows, fraction, seed)
        index = np.asarray(selection)
        pick = next(
            (
                p
                for p in by_speed
                if paired_difference(p["dev"][index], teacher["dev"][index], confidence=confidence).within(
                    budget
                )
            ),
            None,
        )
        if pick is None:
            picks["(none)"] += 1
            continue
        picks[pick["arch"]] += 1
        on_test = paired_difference(pick["test"], teacher["test"], confidence=confidence)
        held += on_test.difference >= -budget - 1e-12
        deltas.append(on_test.difference)
        speedups.append(teacher[f"measured_ms_b{batch}"] / pick[f"measured_ms_b{batch}"])
    picked = len(seeds) - picks["(none)"]
    return {
        "fraction": fraction,
        "selection_rows": len(split_dev(rows, fraction, seeds[0])[1]),
        "picked": picked / len(seeds),
        "held": held / picked if picked else None,
        "median_test_delta": statistics.median(deltas) if deltas else None,
        "median_speedup": statistics.median(speedups) if speedups else None,
        "picks": dict(picks.most_common()),
    }


def main(argv: list[str] | None = None) -> int:
    import json

    from slimnlp.benchmark.paired import correct
    from slimnlp.config import load_config
    from slimnlp.data import read_split
    from slimnlp.models import load_model_dir, max_length_of
    from slimnlp.prune import PruneContext
    from slimnlp.prune.nas.artifacts import slice_front_point
    from slimnlp.prune.nas.pruner import accuracy_budget
    from slimnlp.training.batches import predict_logits

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--fractions", default="0,0.25,0.5,0.75")
    p.add_argument("--splits", type=int, default=400)
    p.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (repeatable)")
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.set)
    dirs = find_run_dirs(args.run)
    front_file = newest("kfp/*/prune/*/prune_artifacts/front.json", args.run) or newest(
        "**/prune_artifacts/front.json", args.run
    )
    artifacts = front_file.parent
    front = json.loads(front_file.read_text(encoding="utf-8"))
    batch = front["batch_size"]
    dev, test = read_split(dirs["data"], "dev"), read_split(dirs["data"], "test")
    model, tokenizer = load_model_dir(dirs["teacher"])
    length = max_length_of(tokenizer)

    def scored(m):
        return {
            name: correct(predict_logits(m, tokenizer, split[0], length).argmax(-1).numpy(), split[1])
            for name, split in (("dev", dev), ("test", test))
        }

    teacher = scored(model) | {f"measured_ms_b{batch}": front["teacher"][f"measured_ms_b{batch}"]}
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, point in enumerate(front["points"]):
            sliced, _ = load_model_dir(slice_front_point(artifacts, point["arch"], Path(tmp) / str(i)))
            points.append(point | scored(sliced))
            print(
                f"scored {point['arch']}: dev {points[-1]['dev'].mean():.4f} test {points[-1]['test'].mean():.4f}"
            )
    section = cfg.prune.nas
    budget = accuracy_budget(
        PruneContext(config=cfg.prune, max_length=length, seed=cfg.seed, run=cfg), section
    )
    print(
        f"\n{args.run}: {len(points)} front points, teacher dev {teacher['dev'].mean():.4f} / test "
        f"{teacher['test'].mean():.4f} ({len(dev[0])} / {len(test[0])} rows); budget {budget}, confidence "
        f"{section.confidence}, {args.splits} splits per fraction, latency at batch {batch}\n"
    )
    print(
        "| selection_fraction | selection rows | a point picked | pick holds on test | median test diff | median speed-up | picks (count) |"
    )
    print("|---|---|---|---|---|---|---|")
    results = []
    for fraction in (float(f) for f in args.fractions.split(",")):
        r = replay(points, teacher, fraction, range(args.splits), budget, section.confidence, batch)
        results.append(r)
        held = f"{r['held']:.0%}" if r["held"] is not None else "-"
        delta = f"{r['median_test_delta']:+.4f}" if r["median_test_delta"] is not None else "-"
        speed = f"{r['median_speedup']:.1f}x" if r["median_speedup"] is not None else "-"
        picks = ", ".join(f"`{a}` {n}" for a, n in list(r["picks"].items())[:4])
        print(
            f"| {fraction:g} | {r['selection_rows']} | {r['picked']:.0%} | {held} | {delta} | {speed} | {picks} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
