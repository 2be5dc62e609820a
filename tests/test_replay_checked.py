"""`replay_checked`: the replay the language server runs from the check it holds equals the CLI's from disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.engine import workspace
from server.engine.cache import SummaryCache
from server.engine.checks import FixtureReport
from server.engine.replay import replay_path
from server.engine.replay.checked import checked_inputs, linked_recording, replay_checked
from tests.replay_inputs import recorded_inputs


def _report(loaded: workspace.Workspace, fixture: Path) -> FixtureReport:
    return next(report for report in loaded.check().fixtures if report.fixture.path == fixture)


@pytest.mark.parametrize("summarized", [False, True], ids=["parsed whole", "summaries"])
def test_a_replay_from_a_check_is_the_replay_from_disk(samples: Path, summarized: bool) -> None:
    config = workspace.load_project_config(samples)
    fixture = samples / "replay" / "write_note.ultra.json"
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    whole = workspace.load_workspace([samples], config)
    store = SummaryCache(samples / ".cache") if summarized else None
    try:
        loaded = workspace.load_workspace([samples], config, store)
    finally:
        if store is not None:
            store.close()
    report = _report(loaded, fixture)
    links = [item.link for item in report.turns if item.link is not None]
    assert links and all(link.recording.summary == summarized for link in links)
    inputs = checked_inputs(report)
    assert inputs and inputs == recorded_inputs(_report(whole, fixture).fixture, whole.recordings, config)
    expected = replay_path(recording, against=fixture).to_json()
    assert replay_checked(recording, report, config.rules, config.root).to_json() == expected


def test_a_summary_changed_since_the_check_gives_its_turn_no_input(samples: Path) -> None:
    """A linked line that no longer holds its call (lines swapped on disk) is not read as another call's input:
    its turn has no input (as the next check would drop the link), and what is still read is what was read."""
    config = workspace.load_project_config(samples)
    fixture = samples / "replay" / "write_note.ultra.json"
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    store = SummaryCache(samples / ".cache")
    try:
        report = _report(workspace.load_workspace([samples], config, store), fixture)
    finally:
        store.close()
    before = checked_inputs(report)
    moved = {item.turn.index for item in report.turns if item.link is not None and item.link.call.index in (0, 2)}
    assert moved and moved <= before.keys()
    lines = recording.read_bytes().splitlines(keepends=True)
    recording.write_bytes(b"".join([lines[2], lines[1], lines[0], *lines[3:]]))
    after = checked_inputs(report)
    assert after and not moved & after.keys()
    assert all(after[index] == before[index] for index in after)


def test_a_fixture_is_replayed_against_the_recording_that_links_most_of_its_turns(samples: Path) -> None:
    config = workspace.load_project_config(samples)
    fixture = samples / "replay" / "write_note.ultra.json"
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    assert linked_recording(_report(workspace.load_workspace([samples], config), fixture)) == recording
    recording.unlink()
    assert linked_recording(_report(workspace.load_workspace([samples], config), fixture)) is None
