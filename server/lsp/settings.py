"""Server settings, from `initializationOptions` and `workspace/didChangeConfiguration`.

Both accept either the settings object itself or one nested under `replayLens`
(the shape VS Code sends). Unknown keys and values of the wrong type are
ignored with a warning: a typo in an editor config must not stop the server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from typing import Any

from server.engine.sessions.postgres import is_url

log = logging.getLogger(__name__)

SECTION = "replayLens"
# What the VS Code extension sends about itself: known, and not settings of the server.
_CLIENT_INFO = frozenset({"client", "workspaceTrusted", "fixtureGlobs"})


@dataclass(frozen=True, slots=True)
class Settings:
    debounce_ms: int = 200
    """Quiet time after the last keystroke before an open document is re-checked (an edit after this much quiet
    is re-checked at once)."""
    watch_files: bool = True
    """Run a file watcher of our own, for changes the editor does not report."""
    reveal_secrets: bool = False
    """Show API keys and tokens in previews instead of masking them."""
    preview_chars: int = 4000
    """Longest text shown in a hover before it is cut (0: never cut)."""
    databases: tuple[str, ...] = ()
    """`postgresql://` URLs of LangGraph `PostgresSaver` databases listed in the sessions view."""

    def updated(self, value: Any) -> Settings:
        """These settings with the known keys of `value` applied (camelCase as in editor configs)."""
        if isinstance(value, dict) and isinstance(value.get(SECTION), dict):
            value = value[SECTION]
        if not isinstance(value, dict):
            return self
        changes: dict[str, Any] = {}
        by_name = {_camel(field.name): field for field in fields(self)}
        for key, raw in value.items():
            field = by_name.get(key)
            if key in _CLIENT_INFO:
                continue
            if field is None:
                log.warning("unknown setting %s.%s (ignored)", SECTION, key)
                continue
            expected = type(getattr(self, field.name))
            if expected is tuple:
                urls = _urls(raw)
                if urls is None:
                    log.warning("setting %s.%s must be a list of postgresql:// URLs (ignored)", SECTION, key)
                else:
                    changes[field.name] = urls
                continue
            valid_int = expected is int and isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0
            if valid_int or (expected is bool and isinstance(raw, bool)):
                changes[field.name] = raw
            else:
                log.warning("setting %s.%s must be a %s, not %r (ignored)", SECTION, key, expected.__name__, raw)
        return replace(self, **changes)


def _urls(raw: Any) -> tuple[str, ...] | None:
    """A list of database URLs, or None when it is not one (the value is never logged: it may hold a password)."""
    if not isinstance(raw, list) or not all(isinstance(item, str) and is_url(item) for item in raw):
        return None
    return tuple(raw)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
