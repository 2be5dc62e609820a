"""`engine.problems.group` on the sample workspace's real findings: a check alone is its findings one problem
each; after a replay, each turn the replay reached is one problem led by its cause."""

from __future__ import annotations

from pathlib import Path

from server.engine import findings as codes
from server.engine.findings import Finding, Severity
from server.engine.problems import Problem, group
from server.engine.replay import replay_path
from server.engine.workspace import load_project_config, load_workspace


def _checked(root: Path) -> list[Finding]:
    return load_workspace([root], load_project_config(root)).check().findings


def _all(problems: list[Problem]) -> list[str]:
    """Every fact the problems show, cause or related (the message of a cause may have been rewritten)."""
    return sorted(f"{f.code.name}@{f.range.start.line}" for p in problems for f in (p.finding, *p.related))


def test_a_check_alone_is_one_problem_per_finding(samples: Path) -> None:
    findings = _checked(samples)
    legacy = samples / "replay" / "legacy_search.flash.json"
    shared = [f for f in findings if f.path == legacy and f.code in (codes.LEGACY_KEY, codes.UNVERIFIABLE)]
    # A legacy turn no recording links is two facts at one place: two causes, two problems.
    assert len({(f.range, f.data["turn"]) for f in shared}) < len(shared)
    assert group(findings) == [Problem(finding) for finding in findings]


def test_a_stale_turn_the_replay_missed_is_one_problem_led_by_its_cause(samples: Path) -> None:
    fixture = samples / "replay" / "write_note.ultra.json"
    stale = [f for f in _checked(samples) if f.path == fixture]
    assert [f.code for f in stale] == [codes.STALE_KEY] * 3
    report = replay_path(samples / "recordings" / "write_note.ultra.jsonl")
    problems = group(stale + report.diagnostics)
    assert _all(problems) == sorted(f"{f.code.name}@{f.range.start.line}" for f in stale + report.diagnostics)
    assert len(problems) == 3
    for problem, cause in zip(problems, stale, strict=True):
        found = problem.finding
        assert found.code is codes.STALE_KEY and found.range == cause.range and found.data == cause.data
        assert found.message == f"stale: keyed without rules user-input-begin, user-input-end; rehash — {cause.message}"
        assert found.severity is Severity.ERROR
        assert [f.code for f in problem.related] == [codes.REPLAY_MISS, codes.UNUSED_TURN]
        assert {f.data["turn"] for f in problem.related} == {cause.data["turn"]}


def test_an_unused_turn_no_recording_links_is_one_problem(samples: Path, tmp_path: Path) -> None:
    """The session replayed is not one of the project's recordings: the check finds every turn unverifiable, the
    replay leaves each unused (and its misses, with no recorded input to compare, are problems of their own)."""
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    session = tmp_path / "elsewhere.jsonl"
    session.write_text(recording.read_text(encoding="utf-8").replace("hi from replay", "hello"), encoding="utf-8")
    recording.unlink()
    fixture = samples / "replay" / "write_note.ultra.json"
    checked = [f for f in _checked(samples) if f.path == fixture]
    report = replay_path(session, against=fixture, config=load_project_config(samples))
    problems = group(checked + report.diagnostics)
    turns = [p for p in problems if p.related]
    assert [p.finding.code for p in turns] == [codes.UNUSED_TURN] * 4
    assert all([f.code for f in p.related] == [codes.UNVERIFIABLE] for p in turns)
    assert all(p.finding.severity is Severity.WARNING for p in turns)
    misses = [p.finding for p in problems if not p.related]
    assert [f.code for f in misses] == [codes.REPLAY_MISS] * 4 and all("turn" not in f.data for f in misses)
