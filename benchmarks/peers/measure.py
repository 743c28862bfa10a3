"""Every model timed in the same interleaved rounds with slimnlp's latency harness, in one process.

    <runtime venv>/bin/python benchmarks/peers/measure.py request.json results.json
    <runtime venv>/bin/python benchmarks/peers/measure.py --memory '<variant json>'   (peak memory child)

The request names the variants ({"name", "runtime", "path", "tokenizer_dir", "model_dir"}), the data
dir and the benchmark settings. Runtimes: "onnx-int8" / "onnx" (slimnlp's own files through
slimnlp's OnnxRunner; a peer's graph through `PeerOnnxRunner`, which feeds zero token_type_ids when
the graph asks for them and the tokenizer does not), "fasttext" (the fastText C++ library's own
predict) and "model2vec" (StaticModelPipeline.predict_proba). Quality: every test text, batches of
32 padded to their longest text, scored by slimnlp's metrics. Latency:
`slimnlp.benchmark.latency.time_interleaved` over all variants (warm-up excluded, order rotating
each round). The transformer runtimes are timed on the model call alone (tokenisation done
beforehand); Model2Vec's too (its tokenizer runs in `encode`); fastText
tokenises inside its C++ call, which is included (as the TF-IDF baseline's featurisation is): it
counts against it. Peak memory: a fresh process per
variant, the libraries imported before the high-water mark is reset (`slimnlp.benchmark.memory`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


class PeerOnnxRunner:
    """An ONNX text classifier exported by a peer (first output = logits)."""

    def __init__(self, path: str, tokenizer_dir: str, threads: int, max_length: int) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from slimnlp.runtime.onnx import session_options

        self.session = ort.InferenceSession(
            path, session_options(threads, spinning=False), providers=["CPUExecutionProvider"]
        )
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        self.names = [i.name for i in self.session.get_inputs()]
        self.max_length = max_length

    def encode(self, texts: list[str], pad_to: int | None = None) -> dict[str, np.ndarray]:
        from slimnlp.runtime.inputs import tokenize

        enc = tokenize(self.tokenizer, texts, self.max_length, pad_to, tensors="np")
        if "token_type_ids" in self.names and "token_type_ids" not in enc:
            enc["token_type_ids"] = np.zeros_like(enc["input_ids"])
        return {name: enc[name] for name in self.names}

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, feed)[0]


class FastTextRunner:
    """fastText's own predict (k = all labels), scores in label-id order."""

    def __init__(self, path: str, labels: dict[str, int], threads: int) -> None:
        import fasttext

        self.model = fasttext.load_model(path)
        self.labels = labels

    def encode(self, texts: list[str], pad_to: int | None = None) -> list[str]:
        return [" ".join(t.split()) for t in texts]

    def run(self, texts: list[str]) -> np.ndarray:
        # The C++ call itself: fastText's Python wrapper builds its result with np.array(copy=False),
        # which NumPy 2 refuses; the scores are the same.
        # Its probability arrays come back aliased under NumPy 2 (fasttext-wheel 0.9.2: every entry of
        # a row equals the top one), so the scores are the labels' ranks: the names are in order.
        found, _ = self.model.f.multilinePredict(texts, -1, 0.0, "strict")
        scores = np.zeros((len(texts), len(self.labels)), np.float32)
        for row, names in enumerate(found):
            for rank, name in enumerate(names):
                scores[row, self.labels[name]] = len(names) - rank
        return scores


class Model2VecRunner:
    """Model2Vec's StaticModelPipeline (static embeddings, mean pooling, its classifier head).

    Like the transformer runtimes, the timed call excludes tokenisation: `encode` runs the pipeline's
    own tokenizer, `run` is the pipeline's predict_proba with that tokenisation handed back (the
    library's code path, its tokenizer call answered from the feed).
    """

    def __init__(self, path: str, id2label: dict[int, str]) -> None:
        from model2vec.inference import StaticModelPipeline

        self.pipeline = StaticModelPipeline.from_pretrained(path)
        classes = [str(c) for c in self.pipeline.classes_]
        self.order = [classes.index(id2label[i]) for i in sorted(id2label)]
        self.tokenize = self.pipeline.model.tokenize

    def encode(self, texts: list[str], pad_to: int | None = None) -> tuple[list[str], list[list[int]]]:
        limit = self.pipeline.model.max_length
        ids = self.tokenize(list(texts))
        return list(texts), [i[:limit] if limit else i for i in ids]

    def run(self, feed: tuple[list[str], list[list[int]]]) -> np.ndarray:
        texts, ids = feed
        self.pipeline.model.tokenize = lambda sentences: ids
        try:
            return np.asarray(self.pipeline.predict_proba(texts))[:, self.order]
        finally:
            self.pipeline.model.tokenize = self.tokenize


def make_runner(variant: dict[str, Any], threads: int, id2label: dict[int, str]):
    from slimnlp.models import model_max_length
    from slimnlp.runtime import load_runner

    runtime = variant["runtime"]
    threads = variant.get("threads", threads)  # a variant may name its own (its fastest) thread count
    if runtime == "fasttext":
        return FastTextRunner(variant["path"], variant["labels"], threads)
    if runtime == "model2vec":
        return Model2VecRunner(variant["path"], id2label)
    if variant.get("slimnlp_onnx"):
        return load_runner(
            runtime,
            variant["path"],
            model_dir=variant["model_dir"],
            tokenizer_dir=variant["tokenizer_dir"],
            threads=threads,
            spinning=False,
        )
    return PeerOnnxRunner(
        variant["path"], variant["tokenizer_dir"], threads, model_max_length(variant["model_dir"])
    )


def size_on_disk(variant: dict[str, Any]) -> int:
    """The file(s) served: an .onnx file (+ external data), a fastText .bin, a Model2Vec pipeline dir."""
    path = Path(variant["path"])
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.is_file() else 0)


def probe_memory(request: dict[str, Any]) -> dict[str, float | None]:
    """Inside a fresh child: import every runtime, reset the high-water mark, load, serve 2 batches."""
    import gc

    import onnxruntime  # noqa: F401
    import transformers  # noqa: F401

    from slimnlp.benchmark.memory import _proc_status_mb, _reset_high_water, _ru_maxrss_mb

    for optional in ("fasttext", "model2vec.inference"):
        try:
            __import__(optional)
        except ImportError:
            pass
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    gc.collect()
    reset = _reset_high_water()
    baseline = _proc_status_mb("VmRSS") if reset else _ru_maxrss_mb()
    id2label = {int(k): v for k, v in request["id2label"].items()}
    runner = make_runner(request["variant"], request["threads"], id2label)
    feed = runner.encode(request["texts"], pad_to=request["sequence_length"])
    for _ in range(2):
        runner.run(feed)
    peak = _proc_status_mb("VmHWM") if reset else _ru_maxrss_mb()
    return {"peak_rss_mb": peak, "peak_rss_delta_mb": peak - baseline}


def measure(request: dict[str, Any]) -> dict[str, Any]:
    import subprocess

    from threadpoolctl import threadpool_limits

    from slimnlp.benchmark.harness import quality
    from slimnlp.benchmark.latency import latency_batch, latency_stats, time_interleaved
    from slimnlp.config import BenchmarkConfig
    from slimnlp.data import read_label_map, read_split
    from slimnlp.runtime import predict_logits
    from slimnlp.training.metrics import distinct_text_scores

    # NumPy's BLAS (Model2Vec's head) on one thread: its small matrix products only wait for a second
    # thread, badly so on a loaded machine (2 threads: 50 ms for a 32x32 @ 32x512 product here, 1: 0.3).
    threadpool_limits(limits=1, user_api="blas")
    cfg = BenchmarkConfig(**request["benchmark"])
    texts, labels = read_split(request["data"], "test")
    id2label = read_label_map(request["data"])
    runners = {v["name"]: make_runner(v, cfg.threads, id2label) for v in request["variants"]}
    rows: dict[str, dict[str, Any]] = {}
    for v in request["variants"]:
        predictions = predict_logits(runners[v["name"]], texts).argmax(-1)
        scores = quality(predictions, labels, id2label)
        scores.pop("confusion")
        scores |= distinct_text_scores(texts, labels, predictions)
        rows[v["name"]] = {k: scores[k] for k in scores if not k.startswith(("precision_", "recall_", "f1_"))}
    samples = time_interleaved(runners, texts, cfg, progress=True)
    del runners
    batch = latency_batch(texts, max(cfg.batch_sizes))
    for v in request["variants"]:
        row = rows[v["name"]]
        row |= latency_stats(samples[v["name"]]) | {"size_bytes": size_on_disk(v)}
        child = {
            "variant": v,
            "texts": batch,
            "sequence_length": cfg.sequence_length,
            "threads": cfg.threads,
            "id2label": {str(k): n for k, n in id2label.items()},
        }
        done = subprocess.run(
            [sys.executable, __file__, "--memory", json.dumps(child)],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        row |= (
            json.loads(done.stdout.strip().splitlines()[-1])
            if done.returncode == 0
            else {"peak_rss_mb": None, "peak_memory_error": done.stderr[-500:]}
        )
    from slimnlp.benchmark.facts import environment

    return {
        "rows": rows,
        "latency_samples_ms": samples,
        "rounds": cfg.rounds,
        "n_texts": len(texts),
        "environment": environment(cfg.threads),
    }


if __name__ == "__main__":
    if sys.argv[1] == "--memory":
        print(json.dumps(probe_memory(json.loads(sys.argv[2]))))
    else:
        result = measure(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
        Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")
