"""Where the pytest plugin's captures live in a project, told by path alone.

Kept apart from the workspace walker and the checks so both can tell a capture
without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from server.engine.files import resolved

CAPTURES_DIR = ".replay-lens/captures"
"""Under a project root: what the last test run's models received (`pytest --replay-lens=capture`)."""


def is_capture(path: Path, root: Path) -> bool:
    """Whether `path` is a capture of the project at `root` (a recording, whatever the config's globs say)."""
    return _captured(path, resolved(root))


def any_capture(paths: Iterable[Path], root: Path) -> bool:
    """Whether any of `paths` is a capture of the project at `root` (the root resolved once, not per path)."""
    real_root = resolved(root)
    return any(_captured(path, real_root) for path in paths)


def _captured(path: Path, real_root: Path) -> bool:
    if path.suffix != ".jsonl":
        return False
    try:
        relative = resolved(path).relative_to(real_root).as_posix()
    except ValueError:
        return False
    return relative.startswith(CAPTURES_DIR + "/")
