"""Load tool: create, update and delete generated stacks in-process and time each operation.

    python scripts/load.py --help
    python scripts/load.py --size 1000 --store sqlite --shape flat --path convergence
    python scripts/load.py --shape random --size 500 --latency 0.05 --path convergence --json
    python scripts/load.py --path convergence --latency 0.05 --ops create,supersede,delete

The work is done by the `scripts.loadgen` package; this file only makes the
repository importable and calls its entry point.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.loadgen.cli import main

if __name__ == "__main__":
    sys.exit(main())
