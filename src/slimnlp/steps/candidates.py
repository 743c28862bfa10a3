"""Choose after recovery (NAS, `prune.nas.recover_top_k` > 1): recover each candidate the prune step
wrote, then choose the student among the recovered ones.

    slimnlp run --config configs/nas-mahasent.yaml       # the pipeline runs them (pipelines/candidates.py)
    steps.recover_candidate(cfg, data_dir, teacher_dir, pruned_dir, out_dir, candidate=1)
    steps.select_student(cfg, data_dir, teacher_dir, pruned_dir, [r0, r1, r2], out_dir)

The prune step writes `candidates/<i>/` (model directories) and `candidates/candidates.json` in its
output. `recover-candidate` runs distill then finetune-amp on candidate i (their sections, the one
loop), early stopping on the search rows of dev, and keeps the stage that scores higher on the
selection rows (finetune-amp only when it gains: recovery never loses ground). `select-student`
keeps the fastest recovered candidate whose paired lower bound against the teacher on the selection
rows clears the budget, else the most accurate with the reason (`slimnlp.prune.nas.choose`); its
output is the student's model directory, for export-onnx and benchmark as usual.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from slimnlp import models
from slimnlp.config import RunConfig
from slimnlp.data import load_splits
from slimnlp.steps.common import (
    compute_teacher_logits,
    epoch_logger,
    finish_model_step,
    finish_step,
    loop_settings,
    step_body,
)

RECOVERY_FILE = "recovery.json"
CHOICE_DIR = "candidates_artifacts"


def _candidates(pruned_dir: str | Path) -> dict[str, Any]:
    from slimnlp.prune.nas.choose import CANDIDATES_DIR, CANDIDATES_FILE

    path = Path(pruned_dir) / CANDIDATES_DIR / CANDIDATES_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the prune step wrote no recovery candidates (prune.method nas with "
            "prune.nas.recover_top_k > 1 writes them)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _selection_rows(cfg: RunConfig, dev, listing: dict[str, Any]):
    """(search dev, selection dev): the split the prune step made (its fraction and seed)."""
    from slimnlp.prune.nas.rows import dev_parts

    return dev_parts(dev, listing["selection_fraction"], listing["seed"])


def _correct(model, tokenizer, split) -> Any:
    from slimnlp.benchmark.paired import correct
    from slimnlp.training.batches import predict_logits

    logits = predict_logits(model.eval(), tokenizer, split[0], models.max_length_of(tokenizer))
    return correct(logits.argmax(-1).numpy(), split[1])


def recover_candidate(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    pruned_dir: str | Path,
    out_dir: str | Path,
    *,
    candidate: int,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Distill then finetune-amp candidate `candidate` of the prune output; out_dir is the recovered
    model directory (the better stage on the selection rows), with recovery.json beside it."""
    import copy

    from slimnlp.benchmark.paired import pack_correct
    from slimnlp.prune.nas.choose import CANDIDATES_DIR, best_stage
    from slimnlp.training.device import default_device, resolve_precision
    from slimnlp.training.loop import train_classifier

    listing = _candidates(pruned_dir)
    entries = {c["index"]: c for c in listing["candidates"]}
    if candidate not in entries:  # fewer points could meet the budget than recover_top_k slots
        with step_body(cfg, "recover-candidate", out_dir, parent_run_id) as (run, out):
            reason = (
                f"the prune step wrote {len(entries)} candidate(s): nothing to recover at index {candidate}"
            )
            print(f"recover-candidate {candidate}: {reason}", flush=True)
            (out / RECOVERY_FILE).write_text(
                json.dumps({"index": candidate, "skipped": reason}), encoding="utf-8"
            )
            return finish_step(run, out, {"candidate": candidate, "skipped": 1}, model_dir=False)
    entry = entries[candidate]
    with step_body(cfg, "recover-candidate", out_dir, parent_run_id) as (run, out):
        train, dev, test, id2label = load_splits(data_dir)
        search_dev, selection_dev = _selection_rows(cfg, dev, listing)
        model, tokenizer = models.load_model_dir(Path(pruned_dir) / CANDIDATES_DIR / entry["dir"])
        teacher_logits = compute_teacher_logits(teacher_dir, train[0])
        d, a = cfg.distill, cfg.finetune_amp
        log = epoch_logger(run)
        print(f"recover-candidate {candidate} `{entry['arch']}`: distill", flush=True)
        history = {"distill": train_classifier(
            model, tokenizer, train, search_dev,
            loop_settings(d, cfg, tokenizer, alpha=d.alpha, temperature=d.temperature, name="distill"),
            teacher_logits=teacher_logits, on_epoch=log,
        )}  # fmt: skip
        stages = {"distill": _correct(model, tokenizer, selection_dev)}
        kept_weights = copy.deepcopy(model.state_dict())
        device = default_device()
        precision, reason = resolve_precision(a.precision, device)
        if a.epochs > 0:
            print(f"recover-candidate {candidate}: finetune-amp ({precision}, {reason})", flush=True)
            history["finetune-amp"] = train_classifier(
                model, tokenizer, train, search_dev,
                loop_settings(a, cfg, tokenizer, alpha=a.alpha, temperature=a.temperature, precision=precision,
                          name="finetune_amp"),
                teacher_logits=teacher_logits if a.alpha > 0 else None, on_epoch=log, device=device,
            )  # fmt: skip
            stages["finetune-amp"] = _correct(model, tokenizer, selection_dev)
        kept, scores = best_stage(stages)
        if kept == "distill" and len(stages) > 1:
            model.load_state_dict(kept_weights)  # finetune-amp measured no gain: not kept
        print(f"recover-candidate {candidate}: kept {kept} ({scores})", flush=True)
        record = {
            "index": candidate,
            "arch": entry["arch"],
            "latency_ms": entry[f"measured_ms_b{listing['batch_size']}"],
            "stage": kept,
            "stage_accuracies": scores,
            "selection_correct": pack_correct(stages[kept]),
            "precision": precision,
        }
        (out / RECOVERY_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        metrics = {
            "candidate": candidate,
            "candidate_arch": entry["arch"],
            "stage_kept": kept,
            **{f"selection_accuracy_{k.replace('-', '_')}": v for k, v in scores.items()},
            **{f"{stage}_best_epoch": h.get("best_epoch", 0) for stage, h in history.items()},
        }
        return finish_model_step(run, out, model, tokenizer, test, id2label, metrics)


def select_student(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    pruned_dir: str | Path,
    recovered_dirs: list[str],
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """The fastest recovered candidate that holds the budget on the selection rows (else the most
    accurate, with the reason); out_dir is its model directory, plus candidates_artifacts/ (every
    candidate's figures: candidates.md, candidates.json, report_section.json for the report)."""
    from slimnlp.benchmark.paired import unpack_correct
    from slimnlp.prune.nas.choose import candidate_record, candidates_markdown, choose_student

    listing = _candidates(pruned_dir)
    with step_body(cfg, "select-student", out_dir, parent_run_id) as (run, out):
        _, dev, _, _ = load_splits(data_dir)
        _, selection_dev = _selection_rows(cfg, dev, listing)
        teacher, tokenizer = models.load_model_dir(teacher_dir)
        teacher_correct = _correct(teacher, tokenizer, selection_dev)
        records, dirs = [], {}
        for directory in recovered_dirs:
            path = Path(directory) / RECOVERY_FILE
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: pass recover-candidate outputs")
            r = json.loads(path.read_text(encoding="utf-8"))
            if r.get("skipped"):
                continue
            dirs[r["index"]] = Path(directory)
            records.append(candidate_record(
                r["index"], r["arch"], r["latency_ms"], unpack_correct(r["selection_correct"]), teacher_correct,
                confidence=listing["confidence"], stage=r["stage"], stage_accuracies=r["stage_accuracies"],
            ))  # fmt: skip
        choice = choose_student(records, listing["budget"])
        print(candidates_markdown(choice), flush=True)
        shutil.copytree(dirs[choice["student"]], out, dirs_exist_ok=True)
        (out / RECOVERY_FILE).unlink(missing_ok=True)
        _write_choice(run, out / CHOICE_DIR, choice, listing)
        picked = next(r for r in records if r["index"] == choice["student"])
        metrics = json.loads((dirs[choice["student"]] / "metrics.json").read_text(encoding="utf-8"))
        metrics |= {
            "student_candidate": choice["student"],
            "student_arch": picked["arch"],
            "student_holds_budget": choice["holds"],
            "choice_reason": choice["reason"],
            "candidates_recovered": len(records),
            "selection_delta_vs_teacher": picked["paired"]["difference"],
            "selection_delta_low": picked["paired"]["low"],
            "selection_delta_high": picked["paired"]["high"],
        }
        metrics.pop("size_bytes", None)
        return finish_step(run, out, metrics)


def _write_choice(run, folder: Path, choice: dict[str, Any], listing: dict[str, Any]) -> None:
    """candidates.md / candidates.json and a report section, logged to the step's MLflow run."""
    from slimnlp.benchmark.paired import PairedDifference
    from slimnlp.prune.nas.choose import candidates_markdown

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "candidates.md").write_text(candidates_markdown(choice), encoding="utf-8")
    (folder / "candidates.json").write_text(
        json.dumps({**choice, "listing": listing}, indent=2), encoding="utf-8"
    )
    rows = []
    for r in sorted(choice["candidates"], key=lambda r: r["latency_ms"]):
        p = PairedDifference(**r["paired"])
        mark = " (student)" if r["index"] == choice["student"] else ""
        rows.append([f"{r['index']}{mark}", r["arch"], f"{r['latency_ms']:.2f}", r["stage"],
                     f"{r['selection_accuracy']:.4f}", f"{p.difference:+.4f} ({p.low:+.4f} .. {p.high:+.4f})"])  # fmt: skip
    section = {
        "title": "NAS candidates after recovery (select-student)",
        "text": (
            f"The fastest front points that could meet the {listing['budget']:.4f} budget, each recovered by "
            "distill and finetune-amp (the better stage kept), scored on the selection rows of dev against the "
            f"teacher (paired difference, one-sided {listing['confidence']:.0%} bounds). {choice['reason']}."
        ),
        "header": [
            "candidate",
            "sub-network",
            f"ms (b{listing['batch_size']})",
            "stage kept",
            "selection acc",
            "vs teacher (bounds)",
        ],  # fmt: skip
        "rows": rows,
        "images": [],
    }
    (folder / "report_section.json").write_text(json.dumps(section, indent=2), encoding="utf-8")
    run.log_artifacts(folder, CHOICE_DIR)
