"""Render findings for a terminal (`text`), for tools (`json`) and for code scanning (`sarif`)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as _string
from pathlib import Path
from typing import Any
from urllib.parse import quote

from server.cli.output import indented_json, json_text
from server.engine.findings import CODES, DOCS_URL, Finding, Severity
from server.engine.jsontext import escape_surrogates


@dataclass(frozen=True)
class Summary:
    fixtures: int
    recordings: int
    turns: int
    stale: int
    unverifiable: int
    fixed: int
    preset: str
    fingerprint: str
    config: Path | None

    def to_json(self, findings: Sequence[Finding]) -> dict[str, Any]:
        return {
            "fixtures": self.fixtures,
            "recordings": self.recordings,
            "turns": self.turns,
            "stale": self.stale,
            "unverifiable": self.unverifiable,
            "fixed": self.fixed,
            "by_code": dict(sorted(Counter(f.code.name for f in findings).items())),
            "by_severity": dict(Counter(f.severity.label for f in findings)),
        }


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def render_text(findings: Sequence[Finding], summary: Summary, *, color: bool) -> str:
    styles = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36", Severity.HINT: "2"}

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines = []
    for finding in findings:
        start = finding.range.start
        where = f"{display_path(finding.path)}:{start.line + 1}:{start.character + 1}:"
        label = paint(f"{finding.severity.label}[{finding.code.name}]", styles[finding.severity])
        lines.append(f"{paint(where, '1')} {label} {finding.message}")
    counts = Counter(finding.severity for finding in findings)
    tally = ", ".join(
        f"{counts[severity]} {severity.label}{'s' if counts[severity] != 1 and severity is not Severity.INFO else ''}"
        for severity in Severity
        if counts[severity]
    )
    if lines:
        lines.append("")
    lines.append(
        f"Checked {summary.fixtures} fixture{'s' * (summary.fixtures != 1)} "
        f"({summary.turns} turn{'s' * (summary.turns != 1)}) and "
        f"{summary.recordings} recording{'s' * (summary.recordings != 1)} under rules "
        f"{summary.preset} ({summary.fingerprint})"
        + (f" from {display_path(summary.config)}" if summary.config else "")
        + f": {tally or 'no findings'}."
    )
    if summary.fixed:
        lines.append(f"Fixed {summary.fixed} stale turn{'s' * (summary.fixed != 1)}.")
    elif summary.stale:
        lines.append(
            f"{summary.stale} stale turn{'s' * (summary.stale != 1)} can be rehashed from recordings: rerun with --fix."
        )
    return "\n".join(lines)


def render_json(findings: Sequence[Finding], summary: Summary) -> str:
    """The report as `json_text` writes it (two-space indent), byte for byte, built by `indented_json` and
    one template per finding: a warm run over 10,000 fixtures prints 30,000 findings (13 MB)."""
    rules = {
        "preset": summary.preset,
        "fingerprint": summary.fingerprint,
        "config": str(summary.config) if summary.config else None,
    }
    listed = "[\n    " + ",\n    ".join(map(_finding_json, findings)) + "\n  ]" if findings else "[]"
    text = (
        f'{{\n  "version": 1,\n  "rules": {indented_json(rules, "  ")},\n  "findings": {listed},\n'
        f'  "summary": {indented_json(summary.to_json(findings), "  ")}\n}}'
    )
    return escape_surrogates(text)


def _finding_json(finding: Finding) -> str:
    """`finding.to_json()` as `indented_json` writes it inside the report's findings list."""
    start, end = finding.range.start, finding.range.end
    return (
        f'{{\n      "code": {_string(finding.code.name)},\n      "severity": {_string(finding.severity.label)},\n'
        f'      "path": {_string(str(finding.path))},\n      "range": {{\n        "start": {{\n'
        f'          "line": {start.line},\n          "character": {start.character}\n        }},\n'
        f'        "end": {{\n          "line": {end.line},\n          "character": {end.character}\n        }}\n'
        f'      }},\n      "message": {_string(finding.message)},\n'
        f'      "data": {indented_json(finding.data, "      ")}\n    }}'
    )


_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}


def _uri_reference(path: Path) -> str:
    """A relative URI reference for SARIF: the path's bytes percent-encoded where URIs need it
    (a space, a byte that is not UTF-8), so every consumer reads the name on disk."""
    return quote(os.fsencode(Path(display_path(path)).as_posix()), safe="/:@!$&'()*+,;=-._~")


def render_sarif(findings: Sequence[Finding], summary: Summary) -> str:
    rules = [
        {
            "id": code.name,
            "shortDescription": {"text": code.summary},
            "helpUri": code.docs_url,
            "defaultConfiguration": {"level": _SARIF_LEVEL[code.severity]},
        }
        for code in CODES.values()
    ]
    results = [
        {
            "ruleId": finding.code.name,
            "level": _SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri_reference(finding.path)},
                        "region": {
                            "startLine": finding.range.start.line + 1,
                            "startColumn": finding.range.start.character + 1,
                            "endLine": finding.range.end.line + 1,
                            "endColumn": finding.range.end.character + 1,
                        },
                    }
                }
            ],
        }
        for finding in findings
    ]
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "replay-lens", "informationUri": DOCS_URL, "rules": rules}},
                "columnKind": "utf16CodeUnits",
                "properties": {"preset": summary.preset, "fingerprint": summary.fingerprint},
                "results": results,
            }
        ],
    }
    return json_text(document)
