"""Regenerate the sample LangGraph database of the sample workspace from the real LangGraph.

`python -m tests.producers.langgraph.sample` (from the repository root, with the
`producers` extra installed) runs the conformance scenarios into a fresh
`SqliteSaver` at `fixtures/traces/langgraph/checkpoints.sqlite`, leaving out
the 50-call thread to keep the sample small. Ids and times are the run's own,
so each run writes a different file with the same threads and steps.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from tests.producers.langgraph.graphs import generate

TARGET = Path(__file__).resolve().parents[3] / "fixtures" / "traces" / "langgraph" / "checkpoints.sqlite"
LEFT_OUT = ("long-1",)


def main() -> None:
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    for stale in (TARGET, TARGET.with_name(TARGET.name + "-wal"), TARGET.with_name(TARGET.name + "-shm")):
        stale.unlink(missing_ok=True)
    connection = sqlite3.connect(TARGET, check_same_thread=False)
    saver = SqliteSaver(connection)
    generate(saver)
    for thread in LEFT_OUT:
        saver.delete_thread(thread)
    connection.execute("VACUUM")
    connection.close()  # checkpoints the WAL into the file and removes -wal/-shm
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
