"""One Runner per runtime: the single way slimnlp runs a text classifier for inference.

    from slimnlp.runtime import load_runner, predict_logits
    runner = load_runner("onnx", "runs/x/onnx/model.onnx", model_dir="runs/x/student", tokenizer_dir="runs/x/onnx")
    logits = runner.run(runner.encode(["भारताने सामना जिंकला"]))   # or predict_logits(runner, texts)

- `torch.TorchRunner`: a PyTorch model directory (or an in-memory model and tokenizer);
- `onnx.OnnxRunner`: an exported ONNX file, fp32 or int8 (the same class on a different file);
- `sklearn.TfidfRunner`: the TF-IDF + logistic regression baseline;
- `inputs`: batching texts and tokenising a batch; `timing`: interleaved latency rounds.
- `sparse24`: a 2:4-pruned model on PyTorch's semi-structured sparse CUDA kernels (GPUs >= sm80).
Export's parity check, the benchmark (quality, latency, energy, memory probe) and vocabulary transfer
all run models through these. Importing this package imports neither torch nor onnxruntime.
"""

from slimnlp.runtime.base import ONNX_RUNTIMES, RUNTIMES, Runner, load_runner, predict_logits

__all__ = ["ONNX_RUNTIMES", "RUNTIMES", "Runner", "load_runner", "predict_logits"]
