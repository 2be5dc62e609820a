"""Conversions between engine values (paths, spans, findings) and LSP values (URIs, ranges, diagnostics).

Engine offsets are Python string offsets; LSP positions count code units of the
negotiated encoding. Every conversion goes through `SourceText`, the engine's
single place for that arithmetic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from server.engine import findings as codes
from server.engine.checks import TurnStatus
from server.engine.findings import Finding
from server.engine.fixture import Fixture
from server.engine.recording import RecordedCall, Recording
from server.engine.secrets import masked_finding
from server.engine.source import Position, PositionEncoding, Range, SourceText, Span
from server.engine.summary import kept_context

SOURCE = "replay-lens"
_ENCODINGS: dict[str, PositionEncoding] = {"utf-8": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32"}
TURN_LABELS = {
    TurnStatus.VALID: "✓ valid",
    TurnStatus.STALE: "✗ stale · rehash",
    TurnStatus.UNVERIFIABLE: "? unverifiable",
    TurnStatus.MISMATCH: "✗ caller-key mismatch",
    TurnStatus.MALFORMED: "✗ malformed",
    TurnStatus.MISSED: "✗ missed by the captured tests",
    TurnStatus.UNUSED: "✗ unused by the captured tests",
}
"""A turn's status as its lens and its outline entry show it."""


_NAME_MAX = 255
"""The longest file name (bytes) a file system holds: a longer one names nothing."""


def uri_to_path(uri: str) -> Path | None:
    """The file system path of a `file:` URI: None for other schemes and for a path that cannot name a file
    (a lone surrogate that has no bytes, a name over `_NAME_MAX` bytes). `..` is resolved lexically, so a
    path is inside a folder exactly when its text says so.

    A path whose bytes are not UTF-8 (`%FF`) is decoded as Python names such files
    (`surrogateescape`), so it names the file on disk, not one with U+FFFD in its name.
    """
    if not uri.startswith("file:") or len(uri) > _URI_MAX:
        return None
    try:
        parts = urlsplit(uri)
        raw = unquote_to_bytes(parts.path)
        path = os.fsdecode(raw) if os.name == "posix" and not parts.netloc and not _is_utf8(raw) else to_fs_path(uri)
        if not path:
            return None
        encoded = os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate has no bytes: it names no file
        return None
    if any(len(name) > _NAME_MAX for name in encoded.split(b"/")):
        return None
    return Path(os.path.normpath(path))


_URI_MAX = 1 << 16
"""A URI longer than this (64 KiB, with every byte escaped three times a `PATH_MAX` path) names nothing."""


def path_to_uri(path: Path) -> str:
    """The `file:` URI of `path`; a name that is not UTF-8 is percent-encoded byte by byte (`%FF`)."""
    text = str(path)
    if not _is_utf8(text):
        return "file://" + quote(os.fsencode(path.absolute()))
    uri = from_fs_path(text)
    return uri if uri is not None else path.as_uri()


def _is_utf8(value: str | bytes) -> bool:
    try:
        value.decode("utf-8") if isinstance(value, bytes) else value.encode("utf-8")
    except UnicodeError:
        return False
    return True


def encoding_of(kind: str | None) -> PositionEncoding:
    """The engine's name for a negotiated `PositionEncodingKind` (UTF-16 when none was negotiated)."""
    return _ENCODINGS.get(str(kind or "utf-16"), "utf-16")


def to_lsp(where: Range) -> types.Range:
    return types.Range(
        start=types.Position(where.start.line, where.start.character),
        end=types.Position(where.end.line, where.end.character),
    )


def lsp_range(source: SourceText, span: Span, encoding: PositionEncoding) -> types.Range:
    return to_lsp(source.range(span, encoding))


def call_range(recording: Recording, call: RecordedCall, encoding: PositionEncoding) -> types.Range:
    """A recorded call's range: from the text, or as a summary recording kept it.

    The server reads recordings as summaries only when positions are UTF-16,
    the code units summaries count in.
    """
    return lsp_range(recording.source, call.span, encoding) if call.range is None else to_lsp(call.range)


def offset_at(source: SourceText, position: types.Position, encoding: PositionEncoding) -> int:
    return source.offset(Position(position.line, position.character), encoding)


def masked(finding: Finding, parsed: Fixture | Recording | None) -> tuple[str, dict[str, Any]]:
    """The finding's message and data with secrets masked, reading its file's text (or what a summary kept of it)."""
    if parsed is None:
        return masked_finding(finding, None)
    context = kept_context(parsed, finding.span) if isinstance(parsed, Recording) else None
    return masked_finding(finding, parsed.source, context)


def shown_message(finding: Finding, parsed: Fixture | Recording | None, *, reveal: bool = False) -> str:
    """The finding's message as users see it: secrets masked, unless they asked to reveal them."""
    return finding.message if reveal else masked(finding, parsed)[0]


def diagnostic(
    finding: Finding, parsed: Fixture | Recording | None, encoding: PositionEncoding, *, reveal: bool = False
) -> types.Diagnostic:
    """A finding of the file `parsed` as a diagnostic; `data` carries the code and what a quick fix needs (masked
    like the message)."""
    if parsed is not None and finding.code is not codes.CONFIG_ERROR and encoding != "utf-16":
        where = lsp_range(parsed.source, finding.span, encoding)
    else:
        where = to_lsp(finding.range)
    message, data = (finding.message, finding.data) if reveal else masked(finding, parsed)
    return types.Diagnostic(
        range=where,
        message=message,
        severity=types.DiagnosticSeverity(int(finding.severity)),
        code=finding.code.name,
        code_description=types.CodeDescription(href=finding.code.docs_url),
        source=SOURCE,
        data={"code": finding.code.name, **data},
    )
