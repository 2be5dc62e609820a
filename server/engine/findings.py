"""Findings: what the engine reports, with stable codes every adapter shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from server.engine.source import Range, SourceText, Span


class Severity(IntEnum):
    """Ordered like LSP's DiagnosticSeverity (lower is more severe)."""

    ERROR = 1
    WARNING = 2
    INFO = 3
    HINT = 4

    @property
    def label(self) -> str:
        return {1: "error", 2: "warning", 3: "info", 4: "hint"}[self.value]


@dataclass(frozen=True, slots=True)
class Code:
    """A finding code: its stable name, default severity and a one-line summary."""

    name: str
    severity: Severity
    summary: str

    @property
    def docs_url(self) -> str:
        """The README section that explains this code (its heading is the code itself)."""
        return f"{DOCS_URL}#{self.name}"


DOCS_URL = "https://github.com/replay-lens/replay-lens/blob/main/README.md"


def _code(name: str, severity: Severity, summary: str) -> Code:
    code = Code(name, severity, summary)
    CODES[name] = code
    return code


CODES: dict[str, Code] = {}

STALE_KEY = _code(
    "stale-key", Severity.ERROR, "The key recomputed from the linked recording under current rules differs."
)
CALLER_KEY_MISMATCH = _code(
    "caller-key-mismatch",
    Severity.ERROR,
    "`input_hash` is not the key of the turn's caller and conversation hash.",
)
LEGACY_KEY = _code(
    "legacy-key", Severity.WARNING, "A legacy turn: only `input_hash` (a bare conversation hash), no caller."
)
DUPLICATE_KEY = _code(
    "duplicate-key", Severity.WARNING, "Several turns share a key; only their FIFO order tells them apart."
)
MALFORMED_OUTPUT = _code("malformed-output", Severity.ERROR, "The output is not a LangChain AI message dict.")
MALFORMED_FIXTURE = _code(
    "malformed-fixture", Severity.ERROR, "The fixture or one of its turns does not have the expected shape."
)
MALFORMED_RECORDING = _code("malformed-recording", Severity.ERROR, "A recording line does not have the expected shape.")
UNVERIFIABLE = _code("unverifiable", Severity.INFO, "No recording links to this turn, so its key cannot be recomputed.")
UNLINKED_RECORDING = _code(
    "unlinked-recording",
    Severity.INFO,
    "A recorded call that no fixture turn holds: replay of it would miss.",
)
VOLATILE_TEXT = _code(
    "volatile-text", Severity.WARNING, "Text that looks volatile survived normalization in a recorded input."
)
RULE_TIMEOUT = _code(
    "rule-timeout",
    Severity.ERROR,
    "A normalization rule ran over its time budget on a recorded input: that call's key is not computed.",
)
INVALID_JSON = _code("invalid-json", Severity.ERROR, "The file is not valid JSON (or not UTF-8) at this place.")
CONFIG_ERROR = _code("config-error", Severity.ERROR, "The Replay Lens configuration is invalid.")
READ_ERROR = _code("read-error", Severity.ERROR, "The file could not be read.")
TRACE_ERROR = _code(
    "trace-error", Severity.ERROR, "Part of a trace could not be read (broken line, corrupt or locked database)."
)
MISSING_PAYLOAD = _code("missing-payload", Severity.ERROR, "A trace event refers to a payload file that is missing.")
UNKNOWN_EVENT = _code("unknown-event", Severity.INFO, "A trace event of a type this version does not know: kept as is.")
OPAQUE_DATA = _code(
    "opaque-data", Severity.INFO, "Pickled or encrypted data, shown as opaque: it is never unpickled or decrypted."
)
CHAIN_BROKEN = _code("chain-broken", Severity.ERROR, "An audit log's hash chain does not verify: rows were altered.")
CHAIN_UNVERIFIABLE = _code(
    "chain-unverifiable", Severity.INFO, "An audit log's hash chain could not be checked (unknown hash layout)."
)
REPLAY_MISS = _code("replay-miss", Severity.ERROR, "A replayed call found no fixture turn under the current rules.")
REPLAY_EXHAUSTED = _code(
    "replay-exhausted", Severity.ERROR, "A replayed call's key is known but all its turns were already consumed."
)
UNUSED_TURN = _code("unused-turn", Severity.WARNING, "A fixture turn that the replayed session never consumed.")
TOOL_MISMATCH = _code(
    "tool-mismatch", Severity.WARNING, "A recorded tool call differs from the one the fixture's output requested."
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. `data` carries what a fix needs (JSON-safe)."""

    code: Code
    path: Path
    range: Range
    span: Span
    message: str
    severity: Severity
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def at(
        cls,
        code: Code,
        path: Path,
        source: SourceText,
        span: Span,
        message: str,
        data: dict[str, Any] | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return cls(
            code=code,
            path=path,
            range=source.range(span),
            span=span,
            message=message,
            severity=severity if severity is not None else code.severity,
            data=data or {},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code.name,
            "severity": self.severity.label,
            "path": str(self.path),
            "range": self.range.to_json(),
            "message": self.message,
            "data": self.data,
        }


def sort_key(finding: Finding) -> tuple[str, int, int, str]:
    return (str(finding.path), finding.range.start.line, finding.range.start.character, finding.code.name)
