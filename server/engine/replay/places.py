"""How a replay report names its files: relative to the project root, so a report made on CI reads anywhere.

A report written by `replay --format json` travels: it is made in a CI checkout
(`/home/runner/work/...`) and opened in another one. Absolute paths mean nothing
there, so that report names each file by its path under the project root (POSIX
separators) and nothing else. The report an editor's server returns to its own
client also carries the absolute path and the `file:` URI, which that client opens
directly. A database given by URL keeps its (masked) URL: it is not a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from server.engine.sessions.model import location, location_uri

# Version 1 named files by absolute path and URI only; version 2 adds `file` (root-relative) everywhere and,
# for a portable report (the CLI's), leaves the absolute path and the URI out.
REPORT_VERSION = 2


@dataclass(frozen=True, slots=True)
class Places:
    """Names files in a report: under `root` always; absolutely too unless `portable`."""

    root: Path | None
    portable: bool

    def file(self, path: Path) -> str:
        """`path` relative to the root, with `/` separators (`..` when it is outside the root); the name alone
        when there is no root to be relative to."""
        if self.root is None:
            return path.name
        try:
            relative = os.path.relpath(os.path.abspath(path), os.path.abspath(self.root))
        except ValueError:  # another drive (Windows): no relative path exists
            return path.name
        return PurePosixPath(*Path(relative).parts).as_posix()

    def place(self, path: Path) -> dict[str, Any]:
        """`{file, path, uri}` of a file, `{path, uri}` of a database URL; `path` is `file` when portable."""
        text = location(path)
        if text != str(path):  # a database URL (masked): the same everywhere
            return {"path": text, "uri": location_uri(path)}
        relative = self.file(path)
        if self.portable:
            return {"file": relative, "path": relative}
        absolute = {"path": str(path), "uri": path.resolve().as_uri()}
        return absolute if self.root is None else {"file": relative, **absolute}

    def finding(self, document: dict[str, Any]) -> dict[str, Any]:
        """A finding's JSON (`Finding.to_json`) with its path named as the report names files."""
        path = Path(document["path"])
        if self.portable:
            return {**document, **self.place(path)}
        return document if self.root is None else {**document, "file": self.file(path)}
