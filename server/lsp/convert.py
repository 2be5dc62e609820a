"""Conversions between engine values (paths, spans, findings) and LSP values (URIs, ranges, diagnostics).

Engine offsets are Python string offsets; LSP positions count code units of the
negotiated encoding. Every conversion goes through `SourceText`, the engine's
single place for that arithmetic.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from server.engine import findings as codes
from server.engine.findings import Finding
from server.engine.secrets import masked_finding
from server.engine.source import Position, PositionEncoding, SourceText, Span

SOURCE = "replay-lens"
_ENCODINGS: dict[str, PositionEncoding] = {"utf-8": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32"}


def uri_to_path(uri: str) -> Path | None:
    """The file system path of a `file:` URI (None for other schemes)."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path) if path else None


def path_to_uri(path: Path) -> str:
    uri = from_fs_path(str(path))
    return uri if uri is not None else path.as_uri()


def encoding_of(kind: str | None) -> PositionEncoding:
    """The engine's name for a negotiated `PositionEncodingKind` (UTF-16 when none was negotiated)."""
    return _ENCODINGS.get(str(kind or "utf-16"), "utf-16")


def lsp_range(source: SourceText, span: Span, encoding: PositionEncoding) -> types.Range:
    found = source.range(span, encoding)
    return types.Range(
        start=types.Position(found.start.line, found.start.character),
        end=types.Position(found.end.line, found.end.character),
    )


def offset_at(source: SourceText, position: types.Position, encoding: PositionEncoding) -> int:
    return source.offset(Position(position.line, position.character), encoding)


def shown_message(finding: Finding, source: SourceText | None, *, reveal: bool = False) -> str:
    """The finding's message as users see it: secrets masked, unless they asked to reveal them."""
    return finding.message if reveal else masked_finding(finding, source)[0]


def diagnostic(
    finding: Finding, source: SourceText | None, encoding: PositionEncoding, *, reveal: bool = False
) -> types.Diagnostic:
    """A finding as a diagnostic; `data` carries the code and what a quick fix needs (masked like the message)."""
    if source is not None and finding.code is not codes.CONFIG_ERROR and encoding != "utf-16":
        where = lsp_range(source, finding.span, encoding)
    else:
        start, end = finding.range.start, finding.range.end
        where = types.Range(types.Position(start.line, start.character), types.Position(end.line, end.character))
    message, data = (finding.message, finding.data) if reveal else masked_finding(finding, source)
    return types.Diagnostic(
        range=where,
        message=message,
        severity=types.DiagnosticSeverity(int(finding.severity)),
        code=finding.code.name,
        code_description=types.CodeDescription(href=finding.code.docs_url),
        source=SOURCE,
        data={"code": finding.code.name, **data},
    )
