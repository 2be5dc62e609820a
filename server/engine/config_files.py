"""Where a project's config file and root are: found by names and markers, without reading the config.

Apart from `config` (which parses and validates what is found here) so that a warm `check`
(`run_cache`) can tell its config file and root with the standard library alone: no TOML
parser, no `regex`, no rules.
"""

from __future__ import annotations

import re
from pathlib import Path

from server.engine.files import read_regular

CONFIG_NAMES = ("replay-lens.toml", "pyproject.toml")
PROJECT_MARKERS = ("pyproject.toml", ".git")


def project_root(start: Path, default: Path) -> Path:
    """The root of a project without a config, as ruff finds its project.

    The nearest folder at or above `start` holding a `pyproject.toml` or a `.git`,
    else `default` (the CLI's current directory), so a fixture deep in
    `tests/fixtures/replay/` still sees the project's `recordings/`.
    """
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return default


def find_config_file(start: Path) -> Path | None:
    """The nearest config at or above `start`: `replay-lens.toml` wins over `pyproject.toml`."""
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory, *directory.parents):
        for name in CONFIG_NAMES:
            candidate = candidate_dir / name
            if candidate.is_file() and (name != "pyproject.toml" or _has_section(candidate)):
                return candidate
    return None


def _has_section(pyproject: Path) -> bool:
    """Whether `pyproject` has a `[tool.replay-lens]` section; one it cannot read within bounds (too large, no
    longer a regular file, not UTF-8) is not taken for a config."""
    try:
        text = read_regular(pyproject).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    # Horizontal space only: `\s*` after `^` would rescan a run of blank lines from each of them (quadratic).
    return re.search(r"^[ \t]*\[\[?[ \t]*tool[ \t]*\.[ \t]*[\"']?replay-lens", text, re.MULTILINE) is not None
