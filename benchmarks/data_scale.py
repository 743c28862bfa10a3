"""prepare-data and one pass of the training data loader at 100k, 1M and 5M rows: before and after.

    nice -n 5 python benchmarks/data_scale.py                      # 100k, 1M, 5M (about 30 min on 2 cores)
    python benchmarks/data_scale.py --rows 100000 --rows 1000000   # fewer sizes
    python benchmarks/data_scale.py --num-proc-study 1000000       # the map passes with num_proc 1 vs 2
    sudo python benchmarks/data_scale.py --rows 5000000 --paths after --memory-limit 1024   # in a 1 GiB cgroup

For each size, one generated CSV (Marathi-like words, 5 labels, ~2% repeated rows) goes through:
- before: the pandas implementation of commit 05066f2 (its src/ extracted with `git archive`):
  prepare-data, `read_split` of train into Python lists, `encode` of every text, then one pass of
  the loop's batching (shuffled rows, `collate` to padded tensors);
- after: this checkout: prepare-data on `datasets`/Arrow, then what a training step does:
  `load_splits` (texts and label ids memory-mapped), `token_ids` (the Arrow token cache, tokenised
  once), the loop's `epoch_order` (in a mapped file), and the same pass with `take` + `collate`.
The before path is skipped above 2M rows (it needs ~5.4 KB a row: ~27 GiB at 5M) unless
--memory-limit is given (then the kernel stops it at the limit).
Each runs in its own subprocess (so its peak RSS is its own, from getrusage) with the same WordPiece
tokenizer (max_length 64, batch 32); no model. Prints a markdown table: wall seconds (and CPU
seconds of the process, all threads: the fairer figure on a shared machine) for prepare-data and for
tokenising + the loader pass, and peak RSS in MiB, with after/before ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE_COMMIT = "05066f2"
MAX_LENGTH, BATCH = 64, 32


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of `rows` texts of 6-14 pseudo-Marathi words; the label follows the first word's group."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = [chr(c) for c in range(0x0915, 0x0939)]
    vowels = ["", "ा", "ि", "ी", "ु", "े", "ो"]
    words = np.array(
        [
            "".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.integers(2, 5)))
            for _ in range(3000)
        ]
    )
    labels = np.array(["Sports", "Politics", "Auto", "Health", "Tech"])
    with open(path, "w", encoding="utf-8") as out:
        out.write("Text,Label\n")
        done = 0
        while done < rows:
            n = min(200_000, rows - done)
            lengths = rng.integers(6, 15, n)
            ids = rng.integers(0, len(words), (n, 14))
            repeat = rng.random(n) < 0.02
            lines = []
            for i in range(n):
                j = i - 1 if repeat[i] and i else i
                text = " ".join(words[ids[j, : lengths[j]]])
                lines.append(f"{text},{labels[ids[j, 0] % 5]}\n")
            out.writelines(lines)
            done += n


def make_tokenizer(csv: Path, out: Path) -> None:
    import pandas as pd

    from slimnlp.models import train_wordpiece

    texts = pd.read_csv(csv, nrows=20_000)["Text"].tolist()
    train_wordpiece(texts, 4000, MAX_LENGTH).save_pretrained(out)


class PeakMemory:
    """Peak anonymous and file-backed resident memory of this process, sampled every 20 ms from
    /proc/self/status (Linux). getrusage's peak RSS counts the pages of memory-mapped Arrow files
    too, which the kernel can drop at will; the anonymous part is what the process itself holds."""

    def __init__(self) -> None:
        import threading

        self.peak = {"RssAnon": 0, "RssFile": 0}
        self.phases: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def end_phase(self, name: str) -> None:
        """Keep the peaks since the last phase ended under `name`; the next phase starts from now."""
        self.sample()
        self.phases[name] = dict(self.peak)
        status = Path("/proc/self/status")
        if status.is_file():
            now = {line.split(":")[0]: int(line.split()[1]) for line in status.read_text().splitlines()
                   if line.split(":")[0] in self.peak}  # fmt: skip
            self.peak.update(now)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.sample()

    def sample(self) -> None:
        status = Path("/proc/self/status")
        if not status.is_file():
            return
        for line in status.read_text().splitlines():
            key = line.split(":")[0]
            if key in self.peak:
                self.peak[key] = max(self.peak[key], int(line.split()[1]))  # kB

    def mib(self, key: str) -> float:
        return self.peak[key] / 1024


def worker(mode: str, csv: Path, tokenizer_dir: Path, out: Path) -> dict:
    """One measured run (in its own process): prepare-data, then one pass of the loader."""
    with PeakMemory() as memory:
        result = _measured(mode, csv, tokenizer_dir, out, memory)
    phases = {f"{phase}_anon_mib": peak["RssAnon"] / 1024 for phase, peak in memory.phases.items()}
    overall = {
        key: max([memory.peak[key]] + [p[key] for p in memory.phases.values()]) / 1024 for key in memory.peak
    }
    return result | phases | {"peak_anon_mib": overall["RssAnon"], "peak_file_mib": overall["RssFile"]}


def _measured(mode: str, csv: Path, tokenizer_dir: Path, out: Path, memory: PeakMemory) -> dict:
    import torch
    from transformers import AutoTokenizer

    from slimnlp.config import DataConfig
    from slimnlp.data import prepare_data_files
    from slimnlp.training.batches import collate, pad_id_of

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = DataConfig(train_file=str(csv), text_column="Text", label_column="Label")
    memory.end_phase("imports")  # torch, transformers, datasets and the tokenizer: the same at any size
    start, start_cpu = time.perf_counter(), time.process_time()
    report = prepare_data_files(cfg, out, progress=False)
    prepared, prepared_cpu = time.perf_counter(), time.process_time()
    memory.end_phase("prepare")
    generator = torch.Generator().manual_seed(0)
    if mode == "before":
        from slimnlp.data import read_split
        from slimnlp.training.batches import encode

        texts, label_ids = read_split(out, "train")
        ids = encode(tokenizer, texts, MAX_LENGTH)
        labels = torch.tensor(label_ids, dtype=torch.long)

        def take(rows):
            return [ids[i] for i in rows]

        n = len(ids)
        order = torch.randperm(n, generator=generator)  # as the training loop held it
    else:  # what the training loop (training/loop.py) calls
        from slimnlp.data import load_splits
        from slimnlp.training.batches import epoch_order, label_tensor, token_ids

        train = load_splits(out)[0]  # texts and label ids memory-mapped
        ids = token_ids(tokenizer, train[0], MAX_LENGTH)  # the step's call: tokenised into the cache
        take, n, labels = ids.take, len(ids), label_tensor(train[1])
        order = epoch_order(n, generator)  # the same order as torch.randperm, in a mapped file
    tokens = labelled = 0
    for begin in range(0, n, BATCH):
        rows = order[begin : begin + BATCH].tolist()
        batch = collate(take(rows), pad_id_of(tokenizer), "cpu")
        tokens += int(batch["attention_mask"].sum())
        labelled += len(labels[rows])  # the batch's label ids, as the loop takes them
    assert labelled == n
    done, done_cpu = time.perf_counter(), time.process_time()
    memory.end_phase("loader")
    return {
        "prepare_s": prepared - start,
        "loader_s": done - prepared,
        "prepare_cpu_s": prepared_cpu - start_cpu,
        "loader_cpu_s": done_cpu - prepared_cpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "train_rows": report["train_rows"],
        "dropped_duplicates": report["dropped_duplicates"],
        "tokens": tokens,
    }


def num_proc_study(rows: int, work: Path) -> list[dict]:
    """Wall seconds of prepare-data's two `Dataset.map` passes (the per-row cleaning rules, and the
    tokenisation into the cache) with num_proc 1 and 2 on the same data: whether `num_proc` pays
    on this machine. Each pass writes its own cache file; the data is read once before timing."""
    import datasets
    from transformers import AutoTokenizer

    from slimnlp.config import DataConfig
    from slimnlp.data import prepare_data_files
    from slimnlp.data.artifacts import load_split
    from slimnlp.data.readers import read_dataset
    from slimnlp.data.rows import BATCH, _clean_batch
    from slimnlp.data.tokenise import _tokenise

    csv, tokenizer_dir = work / f"rows-{rows}.csv", work / "tokenizer"
    generate(csv, rows)
    make_tokenizer(csv, tokenizer_dir)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    datasets.disable_progress_bars()
    raw = read_dataset([csv], "csv", "Text", "Label", str(csv), work / "read")
    prepare_data_files(
        DataConfig(train_file=str(csv), text_column="Text", label_column="Label"), work / "data", False
    )
    train = load_split(work / "data", "train")

    passes = {
        "cleaning rules 1-4 (all rows)": lambda n: raw.map(
            _clean_batch, batched=True, batch_size=BATCH, with_indices=True, num_proc=n,
            fn_kwargs={"columns": ("Text", "Label"), "repair": True, "relabel": None},
            remove_columns=raw.column_names, cache_file_name=str(work / f"clean-{n}.arrow"),
            load_from_cache_file=False),
        # the product's own pass (slimnlp.data.tokenise), shards joined into one file when n > 1
        "tokenisation (train split)": lambda n: _tokenise(
            train, tokenizer, MAX_LENGTH, work / f"tok-{n}.arrow", f"study-{n}", progress=False, workers=n),
    }  # fmt: skip
    results = []
    for name, run_pass in passes.items():
        seconds = {}
        for n in (1, 2, 1, 2):  # twice each, interleaved; the faster of the two counts
            start = time.perf_counter()
            run_pass(n)
            seconds[n] = min(seconds.get(n, float("inf")), time.perf_counter() - start)
        results.append({"pass": name, "rows": rows, "num_proc_1_s": seconds[1], "num_proc_2_s": seconds[2]})
        print(
            f"| {name} | {rows:,} | {seconds[1]:.1f} | {seconds[2]:.1f} | {seconds[2] / seconds[1]:.2f}x |",
            flush=True,
        )
    return results


def plot(results: list[dict], path: Path) -> Path:
    """Peak anonymous and file-backed memory against rows, before and after (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for mode, colour in (("before", "tab:red"), ("after", "tab:blue")):
        runs = sorted((r["rows"], r[mode]) for r in results if "error" not in r.get(mode, {"error": ""}))
        if not runs:
            continue
        rows = [n for n, _ in runs]
        ax.plot(rows, [m["peak_anon_mib"] for _, m in runs], "o-", color=colour, label=f"{mode}: anonymous")
        ax.plot(rows, [m["peak_file_mib"] for _, m in runs], "s--", color=colour, alpha=0.6,
                label=f"{mode}: file-backed (reclaimable)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows in the file")
    ax.set_ylabel("peak MiB (prepare-data + loader pass)")
    ax.set_title("slimnlp data layer: peak memory against rows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _charged(result: dict) -> str:
    """With --memory-limit: the cgroup's peak charge (all processes, page cache included)."""
    return f" cgroup peak {result['cgroup_peak_mib']:.0f} MiB |" if "cgroup_peak_mib" in result else ""


def _phases(result: dict) -> str:
    return " / ".join(
        f"{result.get(f'{phase}_anon_mib', float('nan')):.0f}" for phase in ("imports", "prepare", "loader")
    )


def own_memory_cgroup() -> tuple[bool, Path]:
    """(cgroup v1?, folder) of the memory cgroup this process is in (/proc/self/cgroup)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return True, Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return False, Path("/sys/fs/cgroup") / line[3:].lstrip("/")
    raise OSError("no memory cgroup in /proc/self/cgroup")


class MemoryLimit:
    """A memory cgroup (v1 or v2) with a limit, as Kubernetes gives a pod: everything charged to it
    counts (anonymous memory, page cache of the mapped files, child processes), and the kernel
    reclaims page cache before it kills. Needs root and a writable cgroup file system."""

    def __init__(self, mib: int, name: str) -> None:
        self.v1, parent = own_memory_cgroup()
        self.path = parent / f"slimnlp-data-scale-{os.getpid()}-{name}"  # below this process's own
        self.path.mkdir()
        limit_file = "memory.limit_in_bytes" if self.v1 else "memory.max"
        if not (self.path / limit_file).exists():  # cgroup v2 without the memory controller below us
            self.path.rmdir()
            raise OSError(f"{parent}: no memory controller for its children ({limit_file} missing)")
        self._write(limit_file, str(mib << 20))
        if self.v1 and (self.path / "memory.memsw.limit_in_bytes").exists():
            self._write("memory.memsw.limit_in_bytes", str(mib << 20))  # no swapping around the limit

    def _write(self, name: str, value: str) -> None:
        (self.path / name).write_text(value)

    def enter(self) -> None:  # in the child, before exec
        self._write("cgroup.procs", str(os.getpid()))

    def close(self) -> dict:
        peak_file = "memory.max_usage_in_bytes" if self.v1 else "memory.peak"
        events = (self.path / ("memory.oom_control" if self.v1 else "memory.events")).read_text()
        kills = [int(line.split()[1]) for line in events.splitlines() if line.startswith("oom_kill ")]
        peak = int((self.path / peak_file).read_text()) if (self.path / peak_file).exists() else 0
        self.path.rmdir()
        return {"cgroup_peak_mib": peak / 2**20, "oom_kills": kills[0] if kills else 0}


def run(
    mode: str, csv: Path, tokenizer_dir: Path, work: Path, before_src: Path, limit_mib: int | None = None
) -> dict:
    # A fresh token cache per run: the generated data is the same every time (seed 0), and a cache
    # left by an earlier run would make "tokenise + loader pass" a reuse, not a tokenisation.
    env = dict(os.environ, SLIMNLP_CACHE_DIR=str(work / f"cache-{mode}"))
    if mode == "before":
        env["PYTHONPATH"] = str(before_src)
    out = work / f"out-{mode}"
    command = [sys.executable, __file__, "--worker", mode, "--csv", str(csv), "--tokenizer", str(tokenizer_dir),
               "--out", str(out)]  # fmt: skip
    limit = MemoryLimit(limit_mib, mode) if limit_mib else None
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                              preexec_fn=limit.enter if limit else None)  # fmt: skip
    finally:
        charged = limit.close() if limit else {}
    if done.returncode != 0:
        if charged.get("oom_kills"):
            return {"error": f"killed by the OOM killer at the {limit_mib} MiB limit"} | charged
        return {
            "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"rc {done.returncode}"
        }
    return json.loads(done.stdout.strip().splitlines()[-1]) | charged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="row counts (default 100k, 1M, 5M)")
    parser.add_argument("--worker", choices=["before", "after"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--paths", default="before,after", help="which to run (default: before,after)")
    parser.add_argument(
        "--memory-limit",
        type=int,
        metavar="MIB",
        help="run each path in a memory cgroup of MIB (root, Linux)",
    )
    parser.add_argument(
        "--num-proc-study", type=int, metavar="ROWS", help="time the map passes with num_proc 1 and 2"
    )
    parser.add_argument("--plot", type=Path, metavar="PNG", help="draw peak memory against rows")
    parser.add_argument(
        "--plot-logs",
        type=Path,
        nargs="+",
        metavar="LOG",
        help="with --plot: draw earlier runs' printed output",
    )
    args = parser.parse_args()
    if args.plot and args.plot_logs:  # the last line of each log is its JSON
        runs = [run for log in args.plot_logs for run in json.loads(log.read_text().strip().splitlines()[-1])]
        print(plot(runs, args.plot))
        return
    if args.num_proc_study:
        with tempfile.TemporaryDirectory(prefix="data-scale-", dir=args.work) as scratch:
            print(f"# {os.cpu_count()} CPUs; wall seconds, the faster of two interleaved runs each")
            print("| pass | rows | num_proc 1 s | num_proc 2 s | 2 / 1 |")
            print("|---|---:|---:|---:|---:|", flush=True)
            num_proc_study(args.num_proc_study, Path(scratch))
        return
    if args.worker:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            result = worker(args.worker, args.csv, args.tokenizer, args.out)
        print(json.dumps(result))
        return
    sizes = args.rows or [100_000, 1_000_000, 5_000_000]
    with tempfile.TemporaryDirectory(prefix="data-scale-", dir=args.work) as scratch:
        work = Path(scratch)
        before_src = work / "before"
        before_src.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE_COMMIT, "src/slimnlp"],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(before_src)], input=archive, check=True)
        rows_out = []
        print(
            f"# before = commit {BEFORE_COMMIT} (pandas), after = this checkout; {os.cpu_count()} CPUs",
            flush=True,
        )
        print(
            "| rows | path | prepare-data s (CPU s) | tokenise + loader pass s (CPU s) | peak RSS MiB "
            "| peak anonymous MiB (imports / prepare / loader) | peak file-backed MiB | train rows |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|", flush=True)
        for rows in sizes:
            csv = work / f"rows-{rows}.csv"
            generate(csv, rows)
            tokenizer_dir = work / "tokenizer"
            if not tokenizer_dir.exists():
                make_tokenizer(csv, tokenizer_dir)
            results = {}
            for mode in args.paths.split(","):
                if mode == "before" and rows > 2_000_000 and not args.memory_limit:
                    print(
                        f"| {rows:,} | before | skipped: ~5.4 KB a row, more memory than most machines have | | | | | |"
                    )
                    continue
                results[mode] = run(
                    mode, csv, tokenizer_dir, work / f"{rows}", before_src / "src", args.memory_limit
                )
                r = results[mode]
                if "error" in r:
                    print(f"| {rows:,} | {mode} | failed: {r['error'][:80]} | | | | | |", flush=True)
                    continue
                print(f"| {rows:,} | {mode} | {r['prepare_s']:.1f} ({r['prepare_cpu_s']:.1f}) | "
                      f"{r['loader_s']:.1f} ({r['loader_cpu_s']:.1f}) | "
                      f"{r['peak_rss_mib']:.0f} | {r['peak_anon_mib']:.0f} ({_phases(r)}) | {r['peak_file_mib']:.0f} | "
                      f"{r['train_rows']:,} |{_charged(r)}", flush=True)  # fmt: skip
            b, a = results.get("before", {"error": ""}), results.get("after", {"error": ""})
            if "error" not in a and "error" not in b:
                print(f"| {rows:,} | after/before | {a['prepare_s'] / b['prepare_s']:.2f}x "
                      f"({a['prepare_cpu_s'] / b['prepare_cpu_s']:.2f}x) | {a['loader_s'] / b['loader_s']:.2f}x "
                      f"({a['loader_cpu_s'] / b['loader_cpu_s']:.2f}x) | {a['peak_rss_mib'] / b['peak_rss_mib']:.2f}x | "
                      f"{a['peak_anon_mib'] / b['peak_anon_mib']:.2f}x | | "
                      f"{'same' if a['train_rows'] == b['train_rows'] else 'DIFFERENT'} |", flush=True)  # fmt: skip
            rows_out.append({"rows": rows, **results})
            csv.unlink()
        if args.plot:
            plot(rows_out, args.plot)
        print(json.dumps(rows_out), flush=True)


if __name__ == "__main__":
    main()
