"""serving: the registered model behind an HTTP API (`slimnlp serve`).

    slimnlp serve --model models:/slimnlp-marathi-sample@champion     # from the registry
    slimnlp serve --model runs/marathi-sample                         # from a run directory

`model.py` finds and loads what to serve (the same MLflow pyfunc the registry holds), `batching.py`
gathers concurrent requests into one ONNX Runtime call, `server.py` is the HTTP server
(MLflow's scoring protocol on /invocations, /health and /ready).
"""
