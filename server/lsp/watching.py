"""Where disk changes are heard: the client's `didChangeWatchedFiles` and a watchfiles watcher of our own.

Editors do not report every change (a test run re-recording a fixture, a `git
checkout`, files outside what they watch), so a watcher thread runs too. Both
only report paths: `server.lsp.documents` coalesces them and decides which read
of a file is newest.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import watchfiles
from lsprotocol import types

from server.engine.config_files import CONFIG_NAMES
from server.lsp.convert import uri_to_path
from server.lsp.documents import relevant
from server.lsp.session import Session

log = logging.getLogger(__name__)

CLIENT_GLOBS = ("**/*.json", "**/*.jsonl", *(f"**/{name}" for name in CONFIG_NAMES))
_RELEVANT_ENDINGS = (".json", ".jsonl", *(f"/{name}" for name in CONFIG_NAMES))
"""How the URI of a file `relevant` may keep ends (these names are ASCII, so escaping leaves them as they are)."""
_WATCH_DEBOUNCE_MS = 300
_WATCH_STEP_MS = 30


class FileWatcher:
    """A watchfiles thread over the workspace folders, reporting changed paths (to `Documents.add`)."""

    def __init__(self, session: Session, changed: Callable[[set[Path]], None]) -> None:
        self.session = session
        self.changed = changed
        """Told, on the event loop, of each batch of changed paths (`Documents.add`)."""
        self._stop: threading.Event | None = None

    def restart(self) -> None:
        self.stop()
        roots = [folder.path for folder in self.session.state.folders.values() if folder.path.is_dir()]
        if not self.session.settings.watch_files or not roots:
            return
        self._stop = threading.Event()
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._run, args=(roots, self._stop, loop), name="replay-lens-watcher", daemon=True
        )
        thread.start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def _run(self, roots: list[Path], stop: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
        log.debug("watching %s", ", ".join(map(str, roots)))
        try:
            for changes in watchfiles.watch(
                *roots,
                watch_filter=lambda _change, path: relevant(Path(path)),
                stop_event=stop,
                debounce=_WATCH_DEBOUNCE_MS,
                step=_WATCH_STEP_MS,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                paths = {Path(path) for _change, path in changes}
                loop.call_soon_threadsafe(self.changed, paths)
        except RuntimeError:
            pass  # the event loop closed: the server is exiting
        except Exception:
            log.exception("the file watcher stopped")


async def register_client_watchers(session: Session) -> None:
    """Ask the client to report changes to fixtures, recordings and configs (when it can register)."""
    workspace = session.capabilities.workspace
    watched = workspace.did_change_watched_files if workspace is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=glob) for glob in CLIENT_GLOBS]
    )
    registration = types.Registration(
        id=f"replay-lens/watch/{uuid.uuid4()}",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=options,
    )
    try:
        await session.client.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
    except Exception as exc:
        log.warning("the client did not register file watchers: %s", exc)


def changed_paths(params: types.DidChangeWatchedFilesParams) -> list[Path]:
    """The paths of a `didChangeWatchedFiles` that may matter."""
    # A checkout reports thousands of events, most of them repeats or other files: look at each URI once.
    uris = {change.uri for change in params.changes if change.uri.endswith(_RELEVANT_ENDINGS)}
    return [path for path in map(uri_to_path, uris) if path is not None]
