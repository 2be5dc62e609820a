"""Line-based sessions: recordings, fixtures, Codex rollout-trace bundles and session rollouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import zstandard

from server.engine.recording import read_recording
from server.engine.sessions import StepKind, discover, page_steps, read_session, resolve
from server.engine.source import SourceText
from tests.conftest import SAMPLES, run_cli
from tests.sessions.conftest import BROKEN_BUNDLE, CLEAN_BUNDLE, ROLLOUTS

WRITE_NOTE = SAMPLES / "recordings" / "write_note.ultra.jsonl"


def codes_of(findings: list[object]) -> list[str]:
    return [finding.code.name for finding in findings]  # type: ignore[attr-defined]


def test_recording_steps_derive_tool_calls_from_later_inputs() -> None:
    info, _ = resolve(WRITE_NOTE)
    session = read_session(info)
    kinds = [(step.kind.value, step.caller or step.name) for step in session.steps]
    assert kinds == [
        ("model", "lead_agent"),
        ("model", "title_agent"),
        ("tool", "write_file"),
        ("model", "lead_agent"),
        ("tool", "read_file"),
        ("model", "lead_agent"),
    ]
    write = session.steps[2]
    assert write.arguments == {"path": "/mnt/user-data/outputs/note.txt", "content": "hi from replay."}
    assert write.result == "OK: wrote 15 bytes (request req_7Hq2Lm9xPz4Kw8Rt)"
    assert session.steps[0].tokens is not None and session.steps[0].tokens.input == 3664
    assert session.findings == []


def test_recording_step_ranges_match_the_located_reader() -> None:
    located = read_recording(WRITE_NOTE, SourceText.from_bytes(WRITE_NOTE.read_bytes()))
    session = read_session(resolve(WRITE_NOTE)[0])
    model_spans = [step.source.span for step in session.steps if step.kind is StepKind.MODEL and step.source]
    assert model_spans == [call.span for call in located.calls]


def test_truncated_recording_reads_every_complete_line(tmp_path: Path) -> None:
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(WRITE_NOTE.read_bytes()[:-300])
    session = read_session(resolve(cut)[0])
    assert [step.kind for step in session.steps][-1] is StepKind.OPAQUE
    assert "truncated last line" in (session.steps[-1].problem or "")
    assert codes_of(session.findings) == ["invalid-json"]
    assert session.findings[0].range.start.line == 3


def test_fixture_session_takes_inputs_from_linked_recordings() -> None:
    session = read_session(resolve(SAMPLES / "replay" / "legacy_search.flash.json")[0])
    assert [step.kind for step in session.steps] == [StepKind.MODEL, StepKind.MODEL]
    first, second = session.steps
    assert first.input is not None and first.problem is None
    assert second.input is None and "no recorded input" in (second.problem or "")
    assert first.source is not None and first.source.range is not None


def test_codex_bundle_reads_inference_and_tool_calls() -> None:
    session = read_session(resolve(CLEAN_BUNDLE)[0])
    assert [step.kind for step in session.steps] == [StepKind.MODEL, StepKind.TOOL, StepKind.MODEL]
    first, tool, last = session.steps
    assert first.caller == "/root" and first.model == "gpt-5-codex"
    assert [m["type"] for m in first.input or []] == ["system", "system", "human", "human"]
    assert first.output["data"]["tool_calls"][0]["args"] == {"cmd": "wc -l src/*.py"}
    assert tool.name == "exec_command" and tool.call_id == "call_wc01" and "162 total" in tool.result
    assert tool.duration_ms == 270
    assert last.output["data"]["content"].startswith("There are 162 lines")
    assert last.tokens is not None and last.tokens.total == 5375
    assert session.findings == []


def test_broken_bundle_marks_missing_payload_and_unknown_event() -> None:
    session = read_session(resolve(BROKEN_BUNDLE)[0])
    assert [step.kind for step in session.steps] == [StepKind.MODEL, StepKind.TOOL, StepKind.OPAQUE, StepKind.MODEL]
    tool, unknown = session.steps[1], session.steps[2]
    assert tool.problem == "payload payloads/6.json is missing" and tool.result is None
    assert unknown.name == "fork_snapshot_saved" and "unknown event type" in (unknown.problem or "")
    assert sorted(codes_of(session.findings)) == ["missing-payload", "unknown-event"]
    missing = next(f for f in session.findings if f.code.name == "missing-payload")
    assert missing.path.name == "trace.jsonl" and missing.range.start.line == 8


def test_bundle_without_event_log_or_with_escaping_payload_paths(tmp_path: Path) -> None:
    bundle = tmp_path / "trace-x"
    shutil.copytree(CLEAN_BUNDLE, bundle)
    log = bundle / "trace.jsonl"
    log.write_text(log.read_text().replace("payloads/3.json", "../../../etc/passwd"), encoding="utf-8")
    session = read_session(resolve(bundle)[0])
    assert "points outside the bundle" in (session.steps[0].problem or "")
    assert "trace-error" in codes_of(session.findings)


def test_codex_rollouts_plain_compressed_and_truncated() -> None:
    plain_path = next(path for path in ROLLOUTS.glob("*.jsonl") if "truncated" not in path.name)
    plain = read_session(resolve(plain_path)[0])
    compressed = read_session(resolve(next(ROLLOUTS.glob("*.jsonl.zst")))[0])
    truncated = read_session(resolve(next(ROLLOUTS.glob("*truncated.jsonl")))[0])
    for session in (plain, compressed):
        assert [step.kind for step in session.steps] == [StepKind.MODEL, StepKind.TOOL, StepKind.MODEL]
        model, tool, answer = session.steps
        assert model.tokens is not None and model.tokens.input == 4012
        assert tool.name == "shell" and tool.status == "completed"
        assert answer.input is not None and answer.input[-1]["type"] == "tool"
        assert session.findings == []
    assert compressed.steps[2].output["data"]["content"] == "The last commit is 9c1e2f4, \u201cAdd notes index\u201d."
    assert truncated.steps[-1].kind is StepKind.OPAQUE and "truncated" in (truncated.steps[-1].problem or "")
    assert codes_of(truncated.findings) == ["trace-error"]


def test_cut_compressed_rollout_is_reported(tmp_path: Path) -> None:
    source = next(ROLLOUTS.glob("*.zst"))
    data = zstandard.ZstdDecompressor().decompress(source.read_bytes())
    cut = tmp_path / source.name
    cut.write_bytes(zstandard.ZstdCompressor().compress(data)[:-20])
    session = read_session(resolve(cut)[0])
    assert any("cut short" in finding.message for finding in session.findings)
    garbage = tmp_path / "rollout-2026-01-01T00-00-00-x.jsonl.zst"
    garbage.write_bytes(b"not zstd at all")
    broken = read_session(resolve(garbage)[0])
    assert codes_of(broken.findings) == ["trace-error"]


def test_pages_hold_only_their_steps_and_new_inputs() -> None:
    info, _ = resolve(CLEAN_BUNDLE)
    page = page_steps(info, page=2, page_size=2)
    assert (page.total, page.pages, [step.index for step in page.steps]) == (3, 2, [2])
    last = page.steps[0]
    assert last.input_omitted == 4 and [m["type"] for m in last.input or []] == ["ai", "tool"]
    rollout = next(p for p in ROLLOUTS.iterdir() if p.name.endswith("b.jsonl"))
    paged = page_steps(resolve(rollout)[0], page=1, page_size=10)
    assert paged.steps[2].input_omitted > 0
    document = page.to_json()
    assert document["pageSize"] == 2 and document["steps"][0]["summary"].startswith("There are 162 lines")


def test_discover_finds_every_sample_session() -> None:
    found = discover([SAMPLES])
    kinds = sorted({info.kind for info in found.sessions})
    assert kinds == ["cato-audit", "codex-bundle", "codex-rollout", "fixture", "langgraph-checkpoints", "recording"]
    langgraph = [info for info in found.sessions if info.kind == "langgraph-checkpoints"]
    assert len(found.sessions) - len(langgraph) == 14 and len(langgraph) == 13
    assert all(info.path.exists() for info in found.sessions)


def test_unknown_rollout_line_keeps_its_words_through_the_mask(tmp_path: Path) -> None:
    """`'token_usage_summary': kept as is` read like a secret-named key and its value, and the mask
    turned "kept" into "****": the message no longer has that shape, whatever the type is called."""
    rollout = tmp_path / "rollout-2026-12-06T00-00-00-01a24990-0000-7000-8000-000000000001.jsonl"
    source = next(path for path in ROLLOUTS.glob("*.jsonl") if "truncated" not in path.name)
    extra = '{"timestamp": "2026-12-06T00:00:00Z", "type": "token_usage_summary", "payload": {"auth_total": 3}}\n'
    rollout.write_text(source.read_text(encoding="utf-8") + extra, encoding="utf-8")
    document = run_cli("steps", rollout, "--format", "json").json()
    problems = [step.get("problem") for step in document["steps"] if step["kind"] == "opaque"]
    assert problems == ["unknown line type 'token_usage_summary' (kept as is)"]
    assert [finding["message"] for finding in document["findings"]] == problems


def test_compressed_rollout_in_several_frames_reads_whole(tmp_path: Path) -> None:
    """Frames with a checksum, without a content size, and a skippable frame between them: whole means no
    finding; a cut inside any of them is reported, never a traceback."""
    source = next(path for path in ROLLOUTS.glob("*.jsonl") if "truncated" not in path.name)
    data = source.read_bytes()
    middle = data.index(b"\n", len(data) // 2) + 1
    first = zstandard.ZstdCompressor(write_checksum=True).compress(data[:middle])
    skippable = (0x184D2A53).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
    second = zstandard.ZstdCompressor(write_content_size=False).compress(data[middle:])
    framed = first + skippable + second
    whole = tmp_path / f"{source.name}.zst"
    whole.write_bytes(framed)
    plain, packed = read_session(resolve(source)[0]), read_session(resolve(whole)[0])
    assert packed.findings == [] and [s.summary() for s in packed.steps] == [s.summary() for s in plain.steps]
    for cut in (5, len(first) - 2, len(first) + 6, len(first) + len(skippable) + len(second) // 2, len(framed) - 1):
        broken = tmp_path / f"cut{cut}" / whole.name
        broken.parent.mkdir()
        broken.write_bytes(framed[:cut])
        assert any("cut short" in finding.message for finding in read_session(resolve(broken)[0]).findings), cut
