"""Sessions: traces of agent runs read into one model (SPEC §6).

Engine API for adapters (CLI, language server):

- `discover(paths) -> Discovery`: every session under files or folders
  (`Discovery.sessions` is a list of `SessionInfo`, `Discovery.findings` what
  could not be read).
- `resolve(path, session_id=None) -> (SessionInfo, findings)`: the session at a
  path; raises `SessionNotFoundError` (a usage error) when there is none, or
  several and no id was given.
- `read_session(info) -> Session`: all steps with full inputs, plus findings.
- `page_steps(info, page, page_size) -> StepPage`: one page and the total,
  without holding the whole session (`StepPage.to_json()` for clients).

Readers never raise on bad input: broken lines, missing payloads, unknown
events, pickled or encrypted blobs, locked or corrupt databases become steps
marked with a `problem` and `Finding`s.
"""

from server.engine.sessions.discover import (
    SOURCES,
    Discovery,
    SessionNotFoundError,
    discover,
    page_steps,
    read_session,
    resolve,
)
from server.engine.sessions.model import Session, SessionInfo, SourceRef, Step, StepKind, StepPage, Tokens

__all__ = [
    "SOURCES",
    "Discovery",
    "Session",
    "SessionInfo",
    "SessionNotFoundError",
    "SourceRef",
    "Step",
    "StepKind",
    "StepPage",
    "Tokens",
    "discover",
    "page_steps",
    "read_session",
    "resolve",
]
