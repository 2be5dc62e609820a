"""How many fixtures and turns a check saw, by status: one count for every surface that shows totals (issue 15).

The language server's `replayLens/status` sends these counts; a typed record,
so a surface names each count instead of indexing a list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from server.engine.checks import FixtureReport, TurnStatus


@dataclass(frozen=True, slots=True)
class TurnCounts:
    fixtures: int
    turns: int
    stale: int
    unverifiable: int
    missed: int


def count_turns(reports: Iterable[FixtureReport]) -> TurnCounts:
    """The totals over the fixture reports of one or more checks."""
    reports = list(reports)
    return TurnCounts(
        fixtures=len(reports),
        turns=sum(len(report.turns) for report in reports),
        stale=sum(report.count(TurnStatus.STALE) for report in reports),
        unverifiable=sum(report.count(TurnStatus.UNVERIFIABLE) for report in reports),
        missed=sum(report.count(TurnStatus.MISSED) for report in reports),
    )
