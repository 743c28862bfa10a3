"""The one training loop (`loop`), its losses, batching, device/precision choice and the metrics."""
