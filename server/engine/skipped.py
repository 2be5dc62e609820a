"""The folders no walk of a workspace enters: version control, environments, caches, builds.

A module of its own so the run cache's walk (`run_cache`) skips the same folders as the readers' (`workspace`)
without importing the readers.
"""

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        "dist",
        "build",
        ".idea",
        ".vscode-test",
    }
)
