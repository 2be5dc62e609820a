"""Hover: what a fixture turn or a recorded call is, and what its key was computed from.

On a fixture turn: caller, key status and the findings on it, where it was
recorded, the normalized input (when a recording links to it) and the recorded
output. On a recording line: its key under the current rules, the fixture turns
holding it and its normalized input. Previews are cut and secrets masked.
"""

from __future__ import annotations

import re
from typing import Any

from lsprotocol import types

from server.engine.checks import TurnReport, TurnStatus
from server.engine.findings import Finding
from server.engine.fixture import Fixture, Turn
from server.engine.normalize import Keys
from server.engine.preview import cut, normalized_input, render_output, safe
from server.engine.recording import RecordedCall, Recording
from server.lsp.convert import call_range, lsp_range, path_to_uri, shown_message
from server.lsp.locate import call_at, call_keys, findings_in, input_keys, turn_at, turn_report
from server.lsp.session import Snapshot
from server.lsp.settings import Settings
from server.lsp.state import Analysis, Document

STATUS_TEXT = {
    TurnStatus.VALID: "✓ key valid under current rules",
    TurnStatus.STALE: "✗ stale: the key differs under current rules",
    TurnStatus.UNVERIFIABLE: "? unverifiable: no recording links to this key; run the replay tests with "
    "`pytest --replay-lens=capture` to verify it",
    TurnStatus.MISSED: "✗ missed: a captured call of the replay tests found no turn, and this one is its nearest",
    TurnStatus.UNUSED: "✗ unused: the captured replay tests never consumed this turn",
    TurnStatus.MISMATCH: "✗ input_hash is not the key of this caller and conversation hash",
    TurnStatus.MALFORMED: "✗ malformed turn",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def escape(text: str) -> str:
    """Plain text for markdown: `<UUID>` must stay visible, not become an HTML tag."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def fence(text: str, language: str = "") -> str:
    """A fenced code block that the text itself cannot close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{text}\n{ticks}"


def code(value: Any) -> str:
    """An inline code span (escapes do not work inside one, so odd values are shown escaped instead)."""
    return f"`{value}`" if isinstance(value, str) and value and "`" not in value else escape(repr(value))


def caller_label(turn: Turn, reveal: bool) -> str:
    caller = safe(turn.caller, reveal=reveal) if isinstance(turn.caller, str) else turn.caller
    return "legacy turn (no caller)" if turn.is_legacy else f"caller {code(caller)}"


def link(document_uri: str, label: str, line: int) -> str:
    return f"[{escape(label)}]({document_uri}#L{line + 1})"


class HoverText:
    """Markdown for one hover, with the user's preview settings applied."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.preview_chars
        self.reveal = settings.reveal_secrets
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def preview(self, title: str, text: str, language: str = "", detail: str = "") -> None:
        self.parts.append(f"**{title}** ({detail})" if detail else f"**{title}**")
        self.parts.append(fence(cut(safe(text, reveal=self.reveal), self.limit), language))

    def findings(self, findings: list[Finding], document: Document) -> None:
        """The findings, one a line, then the diff each captured call's miss carries (its input against its
        nearest turn's)."""
        self.parts.append(
            "\n".join(
                f"- `{finding.code.name}` {escape(shown_message(finding, document.parsed, reveal=self.reveal))}"
                for finding in findings
            )
        )
        for finding in findings:
            diff = finding.data.get("diff") if finding.code.name == "replay-miss" else None
            if isinstance(diff, str) and diff:
                self.preview(f"Captured call {finding.data.get('call')} against this turn", diff, "diff")

    def rules(self, analysis: Analysis) -> str:
        rules = analysis.config.rules
        return f"rules `{rules.preset}` · fingerprint `{rules.fingerprint()}`"

    def markdown(self) -> str:
        return "\n\n".join(self.parts)


def turn_hover(current: Snapshot, turn: Turn, report: TurnReport | None, keys: Keys | None) -> str:
    """The hover of `turn`, whose check says `report`; `keys` are the report's `input_keys` (with the text they
    were hashed from)."""
    text = HoverText(current.settings)
    if current.analysis is None:
        indexing = not current.project.ready.is_set()
        status = "checking… (the workspace is still being indexed)" if indexing else "checking…"
    else:
        status = STATUS_TEXT[report.status] if report is not None else STATUS_TEXT[TurnStatus.MALFORMED]
    text.add(f"**Turn {turn.index}** · {caller_label(turn, text.reveal)} · {status}")
    findings = findings_in(current.analysis, current.document, turn.span)
    if findings:
        text.findings(findings, current.document)
    if report is not None and report.link is not None:
        recording, call = report.link.recording, report.link.call
        where = link(path_to_uri(recording.path), f"{recording.path.name}:{call.line + 1}", call.line)
        text.add(f"Recorded at {where} (call {call.index})")
    if keys is not None and current.analysis is not None:
        text.preview("Normalized input", normalized_input(keys.canonical), "json", text.rules(current.analysis))
    elif report is not None and report.keys is not None:
        text.add("_The recording changed on disk since the check: its input is shown once it is checked again._")
    elif report is not None and report.link is not None:
        text.add("_The recorded input cannot be normalized (see the recording's findings)._")
    elif current.analysis is not None:
        text.add("_No recording links to this turn: the input its key was computed from is unknown._")
    if "output" in turn.members:
        fixture = current.document.parsed
        assert isinstance(fixture, Fixture)  # a turn is a fixture's
        text.preview("Recorded output", render_output(fixture.output(turn)), "text")
    return text.markdown()


def call_hover(current: Snapshot, call: RecordedCall, keys: Keys | None) -> str:
    text = HoverText(current.settings)
    recording = current.document.parsed
    assert isinstance(recording, Recording)
    shown = safe(call.caller, reveal=text.reveal) if isinstance(call.caller, str) else call.caller
    caller = f"caller {code(shown)}" if call.caller is not None else "no caller"
    text.add(f"**Recorded call {call.index}** · line {call.line + 1} · {caller}")
    if keys is not None:
        text.add(_key_comparison(call, keys))
    findings = findings_in(current.analysis, current.document, call.span)
    if findings:
        text.findings(findings, current.document)
    analysis = current.analysis
    report = analysis.recordings.get(current.document.path) if analysis is not None else None
    holders = report.linked.get(call.index, []) if report is not None else []
    if holders:
        text.add("Held by " + ", ".join(_turn_link(fixture, turn) for fixture, turn in holders))
    elif analysis is not None:
        text.add("_No fixture turn holds this call: its replay would miss._")
    if keys is not None and analysis is not None:
        text.preview("Normalized input", normalized_input(keys.canonical), "json", text.rules(analysis))
    return text.markdown()


def _key_comparison(call: RecordedCall, keys: Keys) -> str:
    recorded: list[tuple[str, Any, str]] = [
        ("input_hash", call.input_hash, keys.input_hash),
        ("conversation_hash", call.conversation_hash, keys.conversation_hash),
    ]
    changed = [f"{name} `{old[:12]}…` → `{new[:12]}…`" for name, old, new in recorded if old and old != new]
    if not changed:
        return "✓ the recorded key is the key under current rules"
    return "✗ the key changed under current rules: " + "; ".join(changed)


def _turn_link(fixture: Fixture, turn: Turn) -> str:
    line = fixture.source.line_of(turn.span.start)
    return link(path_to_uri(fixture.path), f"{fixture.path.name} turn {turn.index}", line)


def hover(current: Snapshot, params: types.HoverParams) -> types.Hover | None:
    document: Document = current.document
    encoding = current.encoding
    parsed = document.parsed
    if isinstance(parsed, Fixture):
        turn = turn_at(parsed, params.position, encoding)
        if turn is None:
            return None
        report = turn_report(current.analysis, document, turn)
        analysis = current.analysis
        keys = None
        if report is not None and analysis is not None:
            keys = input_keys(analysis.config, report)
        value = turn_hover(current, turn, report, keys)
        where = lsp_range(parsed.source, turn.span, encoding)
    else:
        call = call_at(parsed, params.position.line)
        if call is None:
            return None
        config = current.analysis.config if current.analysis is not None else current.project.config
        keys = call_keys(config, parsed, call)
        value, where = call_hover(current, call, keys), call_range(parsed, call, encoding)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=where)
