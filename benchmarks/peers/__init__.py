"""Peer compression tools beside slimnlp on the same teacher, data and harness (issue 27).

`benchmarks/peers.py` is the command; this package holds its parts:
- `compare`: where slimnlp stands against each peer point (ahead / behind / level within noise);
- `report`: the markdown table, the JSON and the accuracy-vs-latency plot;
- `venvs`: one virtual environment per peer, layered over slimnlp's, versions recorded;
- `builders`: each peer's model made the way its documentation does it (runs inside the peer's venv);
- `measure`: every model timed in the same interleaved rounds with slimnlp's latency harness.
"""
