"""Load test of `slimnlp serve`: the student and the teacher, int8 and fp32, served the same way.

    .venv/bin/python benchmarks/serve_load.py runs/marathi-sample
    .venv/bin/python benchmarks/serve_load.py runs/marathi-sample --concurrency 8 --requests 2000 --seconds 60
    .venv/bin/python benchmarks/serve_load.py runs/marathi-sample --batching 0,2   # + dynamic batching, 2 ms

Starts one `slimnlp serve` process per configuration on 127.0.0.1 (free ports), waits until each is
ready, then loads them in interleaved rounds (each round gives every server the same share of the
budget, so a machine whose load drifts during the test drifts for all of them alike). Clients are
`--concurrency` threads on keep-alive connections, each sending one headline per request from the
shipped sample until `--requests` requests or `--seconds` seconds are spent: bounded, loopback only,
stops by itself. Prints, per configuration: requests, errors, throughput and p50/p95/p99 latency,
then the student's throughput and p50 over the teacher's. Writes the figures to --out (JSON).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------------
# Servers


def sample_texts() -> list[str]:
    """The shipped Marathi headlines: real lengths, no data of yours needed."""
    from importlib.resources import files

    import pandas as pd

    from slimnlp.data.sources import SAMPLE

    with files("slimnlp.data").joinpath(SAMPLE).open("rb") as file:
        return pd.read_csv(file)["text"].astype(str).tolist()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, role: str, variant: str, max_wait_ms: float, threads: int, log: Path):
    """A `slimnlp serve` process; returns (process, port) once /ready answers 200."""
    port = free_port()
    command = [sys.executable, "-m", "slimnlp", "serve", "--model", model, "--role", role]
    command += ["--variant", variant, "--port", str(port), "--max-wait-ms", str(max_wait_ms)]
    env = {**os.environ, "SLIMNLP_SERVING_THREADS": str(threads)}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{' '.join(command)} was not ready after 300 s:\n{log.read_text()[-2000:]}")


# --------------------------------------------------------------------------------------------------
# Load


def load(port: int, texts: list[str], concurrency: int, requests: int, seconds: float) -> dict:
    """`concurrency` keep-alive clients send one text per request until `requests` are sent or
    `seconds` have passed; returns each request's latency (s) and the errors."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    sent = [0]
    deadline = time.monotonic() + seconds

    def client(worker: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = worker
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= requests:
                    return
                sent[0] += 1
            body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[texts[i % len(texts)]]]}})
            i += concurrency
            start = time.perf_counter()
            try:
                connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                ok = response.status == 200 and b"predictions" in payload
            except OSError as err:
                ok, payload = False, str(err).encode()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - start
            with lock:
                (latencies.append(elapsed) if ok else errors.append(payload[:200].decode(errors="replace")))

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(w,)) for w in range(concurrency)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"latencies": latencies, "errors": errors, "wall_s": time.perf_counter() - started}


def summary(parts: list[dict]) -> dict:
    latencies = np.array([x for part in parts for x in part["latencies"]]) * 1000
    wall = sum(part["wall_s"] for part in parts)
    errors = sum(len(part["errors"]) for part in parts)
    row = {"requests": int(latencies.size), "errors": errors, "throughput_rps": latencies.size / wall}
    for q in (50, 95, 99):
        row[f"p{q}_ms"] = float(np.percentile(latencies, q)) if latencies.size else float("nan")
    return row


# --------------------------------------------------------------------------------------------------
# The run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", help="a finished run directory (runs/<name>)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests per configuration (default 1000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=30, help="most seconds per configuration (default 30)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument("--variants", default="int8,fp32", help="ONNX variants (default int8,fp32)")
    parser.add_argument(
        "--roles", default="student,teacher", help="models of the run (default student,teacher)"
    )
    parser.add_argument("--batching", default="0", help="max-wait-ms values, 0 = off (default 0; e.g. 0,2)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads per server (default 2)")
    parser.add_argument("--out", help="write the figures here (JSON)")
    args = parser.parse_args(argv)

    texts = sample_texts()
    configs = [
        (role, variant, float(wait))
        for role in args.roles.split(",")
        for variant in args.variants.split(",")
        for wait in args.batching.split(",")
    ]
    logs = Path(tempfile.mkdtemp(prefix="serve-load-"))
    servers = {}
    try:
        for role, variant, wait in configs:
            log = logs / f"{role}-{variant}-{wait:g}.log"
            servers[(role, variant, wait)] = start_server(
                args.run_dir, role, variant, wait, args.threads, log
            )
            print(f"ready: {role} {variant} batching {wait:g} ms (log {log})", flush=True)
        parts: dict = {config: [] for config in configs}
        for r in range(args.rounds):
            for config in configs:
                _, port = servers[config]
                for _ in range(3):  # warm the connection path; not counted
                    load(port, texts, 1, 1, 5)
                parts[config].append(
                    load(
                        port,
                        texts,
                        args.concurrency,
                        args.requests // args.rounds,
                        args.seconds / args.rounds,
                    )
                )
            print(f"round {r + 1}/{args.rounds} done", flush=True)
        rows = {config: summary(parts[config]) for config in configs}
        print_table(rows, args)  # before the servers stop: a slow exit must not lose the figures
        if args.out:
            named = [{"role": r, "variant": v, "max_wait_ms": w, **row} for (r, v, w), row in rows.items()]
            Path(args.out).write_text(
                json.dumps({"args": vars(args), "rows": named}, indent=2), encoding="utf-8"
            )
    finally:
        for process, _ in servers.values():
            process.terminate()
        for process, _ in servers.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    return 1 if any(row["errors"] or not row["requests"] for row in rows.values()) else 0


def print_table(rows: dict, args: argparse.Namespace) -> None:
    print(
        f"\n{args.concurrency} clients, at most {args.requests} requests or {args.seconds:g} s per "
        f"configuration, {args.rounds} interleaved rounds, {args.threads} ORT threads per server, 1 text per request"
    )
    print(
        f"{'model':9s} {'variant':7s} {'batch ms':>8s} {'requests':>8s} {'errors':>6s} {'req/s':>8s} "
        f"{'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s}"
    )
    for (role, variant, wait), row in rows.items():
        print(
            f"{role:9s} {variant:7s} {wait:8g} {row['requests']:8d} {row['errors']:6d} {row['throughput_rps']:8.1f} "
            f"{row['p50_ms']:7.2f} {row['p95_ms']:7.2f} {row['p99_ms']:7.2f}"
        )
    for (role, variant, wait), row in rows.items():
        teacher = rows.get(("teacher", variant, wait))
        if role == "student" and teacher and teacher["requests"]:
            print(
                f"student/teacher {variant} (batching {wait:g} ms): throughput "
                f"{row['throughput_rps'] / teacher['throughput_rps']:.2f}x, p50 {teacher['p50_ms'] / row['p50_ms']:.2f}x faster"
            )


if __name__ == "__main__":
    sys.exit(main())
