"""The child process that summarizes one part of a big recording (`summary.summarize_file` on several cores).

It is started as a constant program without `site`: it imports the standard
library and the engine, nothing installed (pydantic alone would double its
start-up). It reads its task as JSON on stdin: the file, the byte range, the
rules and the allowed volatile patterns (the parent has already vetted them).
It writes the part as JSON on stdout, and nothing else.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from server.engine.config import Config
from server.engine.rules import Rules
from server.engine.summary import summarize_part


def main() -> None:
    task = json.loads(sys.stdin.buffer.read())
    path = Path(task["path"])
    config = Config(
        root=path.parent,
        path=None,
        rules=Rules.from_json(task["rules"]),
        allow_volatile=tuple(re.compile(pattern, flags) for pattern, flags in task["allow"]),
    )
    part = summarize_part(path, config, int(task["start"]), int(task["end"]))
    sys.stdout.buffer.write(json.dumps(part, ensure_ascii=False).encode("utf-8", errors="surrogatepass"))
