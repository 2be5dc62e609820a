"""Problems: findings grouped so that a turn shows one problem per cause.

A stale turn after a replay is found three times at the same place: the check's
`stale-key`, the replay's `replay-miss` (the missed call's nearest turn is this
one) and `unused-turn` (no call consumed it). Shown as three problems they
triple-count one cause, and each message is cut before the cause. `group` makes
one problem of the findings that describe a turn's key and its fate in a replay
(or a captured test run): the cause leads, with the group's worst severity and a
message that starts with why; the other facts are its related findings.
Every other finding (a duplicate key, a differing tool call, a volatile text...)
is a cause of its own and stays a problem of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from server.engine import findings as codes
from server.engine.findings import Finding

_TURN_FACTS = (
    codes.STALE_KEY,
    codes.CALLER_KEY_MISMATCH,
    codes.REPLAY_MISS,
    codes.REPLAY_EXHAUSTED,
    codes.UNUSED_TURN,
    codes.UNVERIFIABLE,
)
"""What a turn's key is and what became of it in a replay, the cause first: a key that changed explains
why the replay missed the turn and left it unused; a miss explains the unused turn; a turn the replay
reached is no longer merely unverifiable. (A legacy key is a cause of its own: the fallback may find it.)"""

_RANK = {code.name: rank for rank, code in enumerate(_TURN_FACTS)}
_REPLAY_FACTS = frozenset(code.name for code in (codes.REPLAY_MISS, codes.REPLAY_EXHAUSTED, codes.UNUSED_TURN))

_CURRENT_RULES = "under the current rules "


@dataclass(frozen=True, slots=True)
class Problem:
    """One cause at one place: `finding` says it (message and severity of the whole group), `related` are the
    other facts of the same turn, in the order they were found."""

    finding: Finding
    related: tuple[Finding, ...] = ()


def group(findings: Iterable[Finding]) -> list[Problem]:
    """The problems of `findings`, in the order their first finding comes (see the module docstring).

    Only a turn a replay (or a captured test run) reached is grouped: without one, every finding is a
    problem of its own, so a check alone shows exactly what `check --format json` prints.
    """
    findings = list(findings)
    if not any(finding.code.name in _REPLAY_FACTS for finding in findings):
        return [Problem(finding) for finding in findings]  # a check alone (the usual case, thousands of turns)
    keyed = [(_turn_place(finding), finding) for finding in findings]
    replayed = {place for place, finding in keyed if place is not None and finding.code.name in _REPLAY_FACTS}
    groups: dict[object, list[Finding]] = {}
    for position, (place, finding) in enumerate(keyed):
        groups.setdefault(place if place in replayed else position, []).append(finding)
    return [_problem(found) for found in groups.values()]


def _turn_place(finding: Finding) -> tuple[object, ...] | None:
    """Where a fact about a turn is (its file, its range, the turn), or None for any other finding."""
    turn = finding.data.get("turn")
    if finding.code.name not in _RANK or not isinstance(turn, int) or isinstance(turn, bool):
        return None
    return (finding.path, finding.range, turn)


def _problem(found: list[Finding]) -> Problem:
    if len(found) == 1:
        return Problem(found[0])
    cause = min(found, key=lambda finding: _RANK[finding.code.name])
    related = tuple(finding for finding in found if finding is not cause)
    message = cause.message
    explanation = next((f.data["explanation"] for f in related if isinstance(f.data.get("explanation"), str)), None)
    if cause.code is codes.STALE_KEY and explanation is not None:
        message = f"stale: keyed {explanation.removeprefix(_CURRENT_RULES)}; rehash — {message}"
    severity = min(finding.severity for finding in found)
    return Problem(dataclasses.replace(cause, message=message, severity=severity), related)
