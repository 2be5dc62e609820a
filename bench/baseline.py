"""The floor and the reference as whole processes, importing nothing of the engine.

    python -m bench.baseline floor|reference RECORDING...

- floor: read each recording, parse every line with `json` and sha256 it; no
  key computation can be faster.
- reference: `bench.reference` (SPEC §4 transcribed, no caching) on every line;
  exit 1 when a recorded key differs from it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from bench import reference


def floor(paths: list[Path]) -> int:
    lines = 0
    for path in paths:
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
                hashlib.sha256(line).hexdigest()
                lines += 1
    return lines


def reference_pass(paths: list[Path]) -> int:
    """How many lines' recorded keys differ from the reference's."""
    mismatches = 0
    for path in paths:
        with path.open("rb") as handle:
            for line in handle:
                record = json.loads(line)
                keys = reference.keys(record["caller"], record["input"])
                mismatches += keys != (record["conversation_hash"], record["input_hash"])
    return mismatches


def main(argv: list[str]) -> int:
    mode, paths = argv[0], [Path(arg) for arg in argv[1:]]
    if mode == "floor":
        floor(paths)
        return 0
    return 1 if reference_pass(paths) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
