"""The NAS front beside importance pruning at equal latency, on the teacher of one nas run (issue 15).

    .venv/bin/python benchmarks/nas_study.py --run runs/nas-shc            # after `make nas-shc`
    .venv/bin/python benchmarks/nas_study.py --run runs/nas-shc --sparsities 0.25 0.5 0.75

Takes the run's teacher, data and the prune step's front (prune_artifacts/front.json), prunes the
same teacher with one-shot importance pruning at each sparsity, scores each on the same dev split
and times each in the same runtime as the front (ORT int8 at the benchmark's threads, batch sizes
and sequence length), interleaved with the teacher; speed-ups are ratios to the teacher measured in
the same rounds, so they compare with the front's although absolute ms drift between sessions.
Both sides are compared before distillation (the front's accuracies are the super-network's shared
weights; the importance models are one-shot). `--models NAME=DIR ...` adds trained students (the
run's final NAS student, block movement prune outputs of the same teacher) to the same timing
rounds, with their dev and test accuracy: the comparison after training. Writes
nas_study.{md,json,png} into --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path

from slimnlp import models
from slimnlp.config import load_config
from slimnlp.data import load_splits
from slimnlp.prune.importance import prune_model, taylor_importance
from slimnlp.prune.nas.latency import LatencyTarget, build_runner, time_runners
from slimnlp.training.batches import evaluate


def _latest_pipeline(run: Path) -> Path:
    runs = sorted(
        (run / "kfp").glob("*/prune/model/prune_artifacts/front.json"), key=lambda p: p.stat().st_mtime
    )
    if not runs:
        raise SystemExit(f"{run}/kfp holds no prune step with a NAS front; run `make nas-shc` first")
    return runs[-1].parents[3]


def _importance_models(teacher, tokenizer, train, dev, sparsities, max_length):
    """(name, model, dev accuracy, sparsity) per sparsity, from one importance estimate."""
    importance = taylor_importance(
        copy.deepcopy(teacher), tokenizer, *train, batches=16, batch_size=16, max_length=max_length
    )
    found = []
    for sparsity in sparsities:
        model = copy.deepcopy(teacher)
        prune_model(model, importance, sparsity, sparsity, 1)
        accuracy = float(evaluate(model, tokenizer, *dev, max_length)["accuracy"])
        found.append((f"importance-{sparsity:g}", model, accuracy, sparsity))
    return found


def _front_at(front: list[dict], speedup: float, b: int) -> dict | None:
    """The most accurate front point at least as fast as `speedup`."""
    faster = [p for p in front if p[f"speedup_b{b}"] >= speedup]
    return max(faster, key=lambda p: p["dev_accuracy"]) if faster else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/nas-shc"))
    parser.add_argument("--config", default="configs/nas-shc.yaml")
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--models", nargs="*", default=[], metavar="NAME=DIR", help="trained students timed and scored beside"
    )
    args = parser.parse_args()
    trained = dict(spec.split("=", 1) for spec in args.models)
    pipeline = _latest_pipeline(args.run)
    front = json.loads((pipeline / "prune/model/prune_artifacts/front.json").read_text())
    cfg = load_config(args.config)
    train, dev, test, _ = load_splits(pipeline / "prepare-data/data")
    teacher, tokenizer = models.load_model_dir(pipeline / "train-teacher/model")
    length = models.max_length_of(tokenizer)
    bench = cfg.benchmark
    target = LatencyTarget(
        runtime=cfg.prune.nas.latency_runtime,
        threads=bench.threads,
        batch_sizes=tuple(bench.batch_sizes),
        sequence_length=min(bench.sequence_length, length),
        rounds=5,
        iterations=10,
        export=cfg.export,
    )
    teacher_accuracy = float(evaluate(teacher, tokenizer, *dev, length)["accuracy"])
    pruned = _importance_models(teacher, tokenizer, train, dev, args.sparsities, length)
    with tempfile.TemporaryDirectory(prefix="nas-study-") as tmp:
        runners = {"teacher": build_runner(teacher, tokenizer, target, Path(tmp), "teacher", dev[0])[0]}
        for name, model, _, _ in pruned:
            runners[name] = build_runner(model, tokenizer, target, Path(tmp), name, dev[0])[0]
        students = []
        for name, folder in trained.items():
            model, student_tokenizer = models.load_model_dir(folder)
            runners[name] = build_runner(model, student_tokenizer, target, Path(tmp), name, dev[0])[0]
            scores = {
                split: float(evaluate(model, student_tokenizer, *data, length)["accuracy"])
                for split, data in (("dev", dev), ("test", test))
            }
            students.append(
                {"name": name, "dir": str(folder), **{f"{k}_accuracy": v for k, v in scores.items()}}
            )
        medians = time_runners(runners, dev[0], target, progress=True)
    b = front["batch_size"]
    rows = []
    for name, _, accuracy, sparsity in pruned:
        row = {"name": name, "sparsity": sparsity, "dev_accuracy": accuracy}
        for batch in target.batch_sizes:
            row[f"ms_b{batch}"] = medians[batch][name]
            row[f"speedup_b{batch}"] = medians[batch]["teacher"] / medians[batch][name]
        match = _front_at(front["points"], row[f"speedup_b{b}"], b)
        row["nas_point"] = match["arch"] if match else None
        row["nas_dev_accuracy"] = match["dev_accuracy"] if match else None
        row[f"nas_speedup_b{b}"] = match[f"speedup_b{b}"] if match else None
        rows.append(row)
    for row in students:
        for batch in target.batch_sizes:
            row[f"ms_b{batch}"] = medians[batch][row["name"]]
            row[f"speedup_b{batch}"] = medians[batch]["teacher"] / medians[batch][row["name"]]
    teacher_test = float(evaluate(teacher, tokenizer, *test, length)["accuracy"])
    out = args.out or args.run / "nas_study"
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "teacher_dev_accuracy": teacher_accuracy,
        "batch_size": b,
        "teacher_test_accuracy": teacher_test,
        "importance": rows,
        "trained": students,
        "front": front["points"],
    }
    (out / "nas_study.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    lines = [
        f"Teacher dev accuracy {teacher_accuracy:.4f}; speed-ups at batch {b} in {target.runtime}, each "
        "measured against the teacher in its own session.",
        "",
        f"| importance pruning | dev acc | speed-up b{b} | NAS point at >= that speed-up | its dev acc | its speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        nas = (
            f"`{r['nas_point']}` | {r['nas_dev_accuracy']:.4f} | {r[f'nas_speedup_b{b}']:.2f}x"
            if r["nas_point"]
            else "none | - | -"
        )
        lines.append(f"| {r['sparsity']:.0%} | {r['dev_accuracy']:.4f} | {r[f'speedup_b{b}']:.2f}x | {nas} |")
    if students:
        sizes = target.batch_sizes
        lines += [
            "",
            f"Trained students, timed in the same rounds (teacher: dev {teacher_accuracy:.4f}, test {teacher_test:.4f}):",
            "",
            "| student | dev acc | test acc | " + " | ".join(f"speed-up b{x}" for x in sizes) + " |",
            "|---|---|---|" + "---|" * len(sizes),
        ]
        for r in students:
            speeds = " | ".join(f"{r[f'speedup_b{x}']:.2f}x" for x in sizes)
            lines.append(f"| {r['name']} | {r['dev_accuracy']:.4f} | {r['test_accuracy']:.4f} | {speeds} |")
    (out / "nas_study.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _plot(out / "nas_study.png", front["points"], rows, teacher_accuracy, b, students)
    print("\n".join(lines))


def _plot(
    path: Path, front: list[dict], rows: list[dict], teacher_accuracy: float, b: int, students: list[dict]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([p[f"speedup_b{b}"] for p in front], [p["dev_accuracy"] for p in front], "o-", label="NAS front")
    ax.plot(
        [r[f"speedup_b{b}"] for r in rows],
        [r["dev_accuracy"] for r in rows],
        "s--",
        label="importance (one shot)",
    )
    for r in students:
        ax.plot(r[f"speedup_b{b}"], r["dev_accuracy"], "^", ms=8, label=f"{r['name']} (trained)")
    ax.axhline(teacher_accuracy, color="black", lw=0.8, label="teacher")
    ax.axhline(teacher_accuracy - 0.01, color="black", lw=0.8, ls=":", label="teacher - 1 point")
    ax.set_xlabel(f"speed-up vs the teacher, batch {b} (measured)")
    ax.set_ylabel("dev accuracy (front and importance: before distillation)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
