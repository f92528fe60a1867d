"""Run one load in a child process so its peak RSS can be measured on its own.

    python -m tests.bench.child FEED PATH  → prints the batch summary as JSON on stdout
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ingestion.load import load_file

if __name__ == "__main__":
    summary = load_file(sys.argv[1], Path(sys.argv[2]))
    print(json.dumps({k: v for k, v in summary.to_dict().items() if k != "errors"}, default=str))
