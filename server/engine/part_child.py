"""The child process that summarizes recordings, or parts of a big one, beside the parent (`summary`).

It is started as a constant program without `site`: it imports the standard
library and the engine, nothing installed (pydantic alone would double its
start-up). It reads JSON lines on stdin: first the rules and the allowed
volatile patterns (the parent has already vetted them) and every pattern as `regex` runs it (written out by
the parent, so not translated again here), then one task a line:
a whole file (`{"path"}`: its summary and the sha256 of its bytes) or a byte
range of one (`{"path", "start", "end"}`: that part). It answers with JSON
lines on stdout, and nothing else: `{"ready": true}` once its imports are done,
then one line per task, in order (`{"error": ...}` for a task it could not do:
the parent does that one itself, and tells why when it fails there too).
"""

from __future__ import annotations

import gc
import json
import re
import sys
from pathlib import Path
from typing import Any

from server.engine.config import Config
from server.engine.regex_budget import learn
from server.engine.rules import Rules
from server.engine.summary import summarize_file, summarize_part


def main() -> None:
    gc.disable()  # summaries are acyclic: the collector would only walk them (see `workspace.paused_gc`)
    setup = json.loads(sys.stdin.buffer.readline())
    learn(setup["written"])
    rules = Rules.from_json(setup["rules"])
    allow = tuple(re.compile(pattern, flags) for pattern, flags in setup["allow"])
    _answer({"ready": True})
    for line in sys.stdin.buffer:
        task = json.loads(line)
        path = Path(task["path"])
        config = Config(root=path.parent, path=None, rules=rules, allow_volatile=allow)
        try:
            _answer(_done(path, config, task))
        except (OSError, ValueError) as exc:  # the parent does it again, and reports it
            _answer({"error": repr(exc)})


def _done(path: Path, config: Config, task: dict[str, Any]) -> dict[str, Any]:
    if "start" in task:
        return summarize_part(path, config, int(task["start"]), int(task["end"])).to_json()
    summary, digest = summarize_file(path, config, cores=1)
    return {"summary": summary.to_json(), "digest": digest}


def _answer(document: dict[str, Any]) -> None:
    """One line: JSON escapes every non-ASCII character and line break, so a lone surrogate round-trips."""
    sys.stdout.buffer.write(json.dumps(document).encode("ascii") + b"\n")
    sys.stdout.buffer.flush()
