"""Code actions: rehash stale turns (one, or all in the file) and add a rule for volatile text.

Rehash edits come from `server.lsp.edits`, so an applied quick fix gives exactly
the bytes `check --fix` writes. Everything is a `WorkspaceEdit`, so the user can
undo it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types

from server.engine import findings as codes
from server.engine.checks import TurnStatus
from server.engine.files import read_regular
from server.engine.findings import Finding
from server.engine.fixture import Fixture
from server.engine.recording import Recording
from server.engine.source import Range, SourceText, Span
from server.lsp import rules_edit
from server.lsp.convert import SOURCE, diagnostic, lsp_range, offset_at, path_to_uri
from server.lsp.edits import rehash_edit, workspace_edit
from server.lsp.session import Snapshot
from server.lsp.state import Document

log = logging.getLogger(__name__)

REHASH_ALL = "source.fixAll.replayLens"
REHASH_TURN_TITLE = "Rehash this turn under current rules"
REHASH_ALL_TITLE = "Rehash all stale turns in this file"
ADD_RULE_TITLE = "Add a normalization rule for this text"
OPTIONS = types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, REHASH_ALL])


def _wanted(kind: str, only: Sequence[str] | None) -> bool:
    return not only or any(kind == prefix or kind.startswith(f"{prefix}.") for prefix in only)


def _matching(
    context: Sequence[types.Diagnostic], finding: Finding, document: Document, current: Snapshot
) -> list[types.Diagnostic]:
    """The client's diagnostic for `finding` (so the editor links the fix to it), else our own."""
    ours = diagnostic(finding, document.parsed, current.encoding, reveal=current.settings.reveal_secrets)
    same = [d for d in context if d.source == SOURCE and d.code == ours.code and d.range == ours.range]
    return same or [ours]


def _rehash_actions(current: Snapshot, span: Span, params: types.CodeActionParams) -> list[types.CodeAction]:
    document, analysis = current.document, current.analysis
    report = analysis.fixtures.get(document.path) if analysis is not None else None
    if analysis is None or report is None:
        return []
    only = params.context.only
    actions: list[types.CodeAction] = []
    if _wanted(types.CodeActionKind.QuickFix, only):
        stale_findings = [f for f in analysis.findings.get(document.path, []) if f.code is codes.STALE_KEY]
        for turn_report in report.turns:
            turn = turn_report.turn
            if turn_report.status is not TurnStatus.STALE or not (
                turn.span.start <= span.end and span.start <= turn.span.end
            ):
                continue
            edit = rehash_edit(current.capabilities, current.encoding, document, report, [turn.index])
            if edit is None:
                continue
            linked = [f for f in stale_findings if f.data.get("turn") == turn.index]
            actions.append(
                types.CodeAction(
                    title=REHASH_TURN_TITLE,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[
                        d for f in linked for d in _matching(params.context.diagnostics, f, document, current)
                    ],
                    edit=edit,
                    is_preferred=True,
                )
            )
    if _wanted(REHASH_ALL, only) and report.count(TurnStatus.STALE):
        edit = rehash_edit(current.capabilities, current.encoding, document, report)
        if edit is not None:
            actions.append(types.CodeAction(title=REHASH_ALL_TITLE, kind=REHASH_ALL, edit=edit))
    return actions


def _overlap(found: Range, wanted: types.Range) -> bool:
    """Whether a finding's range (UTF-16, as a summary keeps it) meets the requested one."""
    low, high = (found.start.line, found.start.character), (found.end.line, found.end.character)
    return low <= (wanted.end.line, wanted.end.character) and (wanted.start.line, wanted.start.character) <= high


def _rule_actions(
    current: Snapshot, here: Callable[[Finding], bool], params: types.CodeActionParams
) -> list[types.CodeAction]:
    """Quick fixes for the volatile-text findings `here` selects: a rule that allows the text."""
    analysis = current.analysis
    if analysis is None or not _wanted(types.CodeActionKind.QuickFix, params.context.only):
        return []
    actions = []
    for finding in analysis.findings.get(current.document.path, []):
        if finding.code is not codes.VOLATILE_TEXT or not here(finding):
            continue
        rule = finding.data.get("rule")
        try:
            edit = add_rule_edit(current, rule) if isinstance(rule, dict) else None
        except rules_edit.RuleNotAddedError as exc:
            log.warning("%s: not offered, %s", ADD_RULE_TITLE, exc)
            if _says_why(current, params):
                actions.append(
                    types.CodeAction(
                        title=ADD_RULE_TITLE,
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=_matching(params.context.diagnostics, finding, current.document, current),
                        disabled=types.CodeActionDisabled(reason=str(exc)),
                    )
                )
            continue
        if edit is not None:
            actions.append(
                types.CodeAction(
                    title=ADD_RULE_TITLE,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=_matching(params.context.diagnostics, finding, current.document, current),
                    edit=edit,
                )
            )
    return actions


def _says_why(current: Snapshot, params: types.CodeActionParams) -> bool:
    """Whether a rule that cannot be added is answered with a disabled action giving the reason: the user asked
    for actions (not the editor's automatic request) and the client shows a disabled action's reason (LSP 3.16)."""
    text_document = current.capabilities.text_document
    code_action = text_document.code_action if text_document is not None else None
    invoked = params.context.trigger_kind == types.CodeActionTriggerKind.Invoked
    return invoked and code_action is not None and bool(code_action.disabled_support)


def add_rule_edit(current: Snapshot, rule: dict[str, Any]) -> types.WorkspaceEdit | None:
    """Append `rule` to the project's config file, or create `replay-lens.toml` when there is none.

    None when there is nothing to offer (a config already in error, which its own diagnostic reports; a client
    that cannot create files); `RuleNotAddedError` with the reason when the config's text cannot be read or parsed.
    The file on disk is read by the engine's bounded reader: a config replaced by a FIFO, a device or a huge file
    since indexing is refused at once rather than holding this request's worker.
    """
    project = current.project
    if project.config_error is not None or not all(isinstance(value, str) for value in rule.values()):
        return None
    path = project.config.path
    if path is None:
        return _create_config(
            current.capabilities,
            project.root / "replay-lens.toml",
            rules_edit.new_config(rule, project.config.rules.preset),
        )
    uri = path_to_uri(path)
    if current.config_text is not None:
        text, version = current.config_text
    else:
        try:
            text, version = read_regular(path).decode("utf-8"), None
        except OSError as exc:
            raise rules_edit.RuleNotAddedError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise rules_edit.RuleNotAddedError(f"{path.name} is not UTF-8 text (byte {exc.start})") from None
    added = rules_edit.addition(text, rule, pyproject=path.name == "pyproject.toml")
    end = lsp_range(SourceText(text), Span(len(text), len(text)), current.encoding)
    return workspace_edit(current.capabilities, uri, version, [types.TextEdit(end, added)])


def _create_config(capabilities: types.ClientCapabilities, path: Path, content: str) -> types.WorkspaceEdit | None:
    workspace = capabilities.workspace
    capability = workspace.workspace_edit if workspace is not None else None
    operations = (capability.resource_operations or []) if capability is not None else []
    if capability is None or not capability.document_changes or types.ResourceOperationKind.Create not in operations:
        return None
    uri = path_to_uri(path)
    start = types.Range(types.Position(0, 0), types.Position(0, 0))
    return types.WorkspaceEdit(
        document_changes=[
            types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True)),
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                edits=[types.TextEdit(start, content)],
            ),
        ]
    )


def code_action(current: Snapshot, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    if current.analysis is None:
        return None
    parsed = current.document.parsed
    if isinstance(parsed, Recording) and parsed.summary:  # no text: its findings keep their ranges
        return _rule_actions(current, lambda finding: _overlap(finding.range, params.range), params)
    source = parsed.source
    span = Span(
        offset_at(source, params.range.start, current.encoding),
        offset_at(source, params.range.end, current.encoding),
    )
    if isinstance(parsed, Fixture):
        return _rehash_actions(current, span, params)
    return _rule_actions(
        current, lambda finding: finding.span.start <= span.end and span.start <= finding.span.end, params
    )
