"""`python -m slimnlp VERB ...`: the same command as the `slimnlp` console script.

The command line lives in `slimnlp_pipelines.cli` (arrows point pipelines -> slimnlp); it is looked
up by name here, at run time, so importing slimnlp never imports the pipelines or kfp.
"""

import importlib
import sys

if __name__ == "__main__":
    sys.exit(importlib.import_module("slimnlp_pipelines.cli").main())
