"""Write a majordomo audit store with the runs the tests read, and its ground truth.

`python -m tests.producers.majordomo.generate OUT.db` writes OUT.db and OUT.truth.json.
The runs cover what SPEC §6.4 lists: a parent run with parallel tool calls whose
results arrive out of order, a result over 4000 bytes, narration over 2000 bytes
cut inside a multi-byte character, a step that called an `http_*` tool (narration
redacted), `resolved_model`, a custom `compaction_fired` event, non-ASCII text; a
child run that fails with an `error` event; a run still running with a call
whose result never came.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.producers.majordomo.writer import Writer

MODEL = "anthropic/claude-sonnet-4-5"
T0 = datetime(2026, 12, 6, 3, 0, 0, 123456, tzinfo=UTC)


def generate(path: Path) -> list[dict[str, Any]]:
    """Write the store at `path`; returns the ground truth of every run."""
    writer = Writer(path)
    parent = writer.start("run-7c1e", "daily_digest", "user-42", "slack:C042", {"topic": "Zürich ☕"}, T0)
    parent.resolved_model(MODEL)
    parent.step(1, MODEL, "tool_use", (1200, 80, 40, 1000), "Ich lese die Notizen und suche nach News — 東京.",
                ["read_file", "web_search"], 1800)  # fmt: skip
    parent.tool_call("read_file", {"path": "notes/today.md"}, "toolu_01")
    parent.tool_call("web_search", {"query": "replay fixtures", "limit": 3}, "toolu_02")
    parent.tool_result("web_search", "toolu_02", json.dumps([{"title": "Replay", "url": "https://example.com"}]))
    parent.tool_result("read_file", "toolu_01", "# Today\n" + "- a note line that is long enough\n" * 200)
    long_narration = "Zusammenfassung: " + "ä" * 1200  # 2417 bytes; byte 2000 falls inside an "ä"
    parent.step(2, MODEL, "tool_use", (2600, 900, 0, 2400), long_narration, ["http_get"], 950)
    parent.tool_call("http_get", {"url": "https://example.com/feed"}, "toolu_03")
    parent.tool_result("http_get", "toolu_03", "<rss>ok</rss>")
    parent.custom("compaction_fired", {"before_tokens": 180000, "after_tokens": 42000})
    parent.step(3, MODEL, "tool_use", (3000, 60, 0, 2900), "Jetzt der Unter-Skill.", ["run_skill"], 400)
    parent.tool_call("run_skill", {"skill": "fetch_prices"}, "toolu_04")

    child = writer.start("run-9d2f", "fetch_prices", "user-42", "slack:C042", {}, T0, parent="run-7c1e")
    child.resolved_model(MODEL)
    child.step(1, MODEL, "tool_use", (500, 30, 0, 0), "Fetching prices.", ["mcp_call"], 600)
    child.tool_call("mcp_call", {"server": "prices", "tool": "quote", "args": {"symbol": "ACME"}}, "toolu_11")
    child.tool_result("mcp_call", "toolu_11", "upstream 503")
    child.error("mcp_call prices.quote: upstream 503")
    child.finish("error", error="mcp_call prices.quote: upstream 503")

    parent.tool_result("run_skill", "toolu_04", "error: fetch_prices failed")
    parent.step(4, MODEL, "end_turn", (3200, 150, 20, 3000), "Fertig: 3 Notizen, 1 Link; Preise fehlen.", [], 700)
    parent.finish("ok", output="Fertig: 3 Notizen, 1 Link; Preise fehlen.")

    stopped = writer.start("run-a3b4", "cleanup", "cron", "", {"dry": False}, T0)
    stopped.step(1, MODEL, "tool_use", (100, 10, 0, 0), "Cleaning.", ["shell"], 300)
    stopped.tool_call("shell", {"cmd": "rm -rf build"}, "toolu_21")
    writer.close()
    return writer.truth


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.unlink(missing_ok=True)
    truth = generate(out)
    out.with_suffix(".truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
