"""`replayLens/status` (docs/protocol.md): a workspace summary after each check, for status bars."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.engine.counts import count_turns
from server.lsp.state import Project

STATUS = "replayLens/status"


def summary(projects: Iterable[Project]) -> dict[str, Any]:
    """Counts over every project's last check (`engine.counts`); the rules of the project with the most fixtures."""
    projects = list(projects)
    analyses = [project.analysis for project in projects if project.analysis is not None]
    counts = count_turns(report for analysis in analyses for report in analysis.result.fixtures)
    main = max(analyses, key=lambda analysis: len(analysis.result.fixtures), default=None)
    rules = main.config.rules if main is not None else None
    indexing = any(not project.ready.is_set() for project in projects)
    return {
        "preset": rules.preset if rules is not None else None,
        "fingerprint": rules.fingerprint() if rules is not None else None,
        "fixtures": counts.fixtures,
        "turns": counts.turns,
        "stale": counts.stale,
        "unverifiable": counts.unverifiable,
        "missed": counts.missed,
        "indexing": indexing,
    }
