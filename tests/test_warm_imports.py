"""A warm `check` (the run-output cache hit, `run_cache`) imports only what it runs (issue 17).

Its whole cost is a fixed one: start-up, imports, one `stat` per file and one query.
So the process is watched as it really runs (`python -X importtime -m server check`):
the kept output is printed byte for byte without the readers, the rules' library or
a config parser ever being imported; the cold run that kept it did import them (the
probe sees imports). The run key still follows the `regex` a cold run would import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import regex

from server.engine.preset_names import PRESET_NAMES
from server.engine.presets import PRESETS
from tests.conftest import REPO
from tests.test_run_cache import workspace_copy

NEVER_WARM = frozenset(
    {
        "regex",
        "tomllib",
        "pydantic",
        "server.engine.config",
        "server.engine.config_schema",
        "server.engine.fixture",
        "server.engine.recording",
        "server.engine.summary",
        "server.engine.checks",
        "server.engine.normalize",
        "server.engine.presets",
        "server.engine.rules",
        "dataclasses",
        "logging",
        "typing",
        "server.cli.checked",
    }
)
"""What only reading and checking needs: the rules (and their regex library), the config's parsers and schema, the
readers; and what a warm run has no use for (`dataclasses` imports `inspect`, `logging` only warns, `typing` only
annotates)."""


def check_imports(root: Path, cache: Path, *options: str) -> tuple[bytes, int, set[str]]:
    """One `check` process in `root`: its stdout, its exit status and every module it imported."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "REPLAY_LENS_CACHE_DIR": str(cache)}
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "server", "check", *options],
        cwd=root,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    lines = completed.stderr.decode(errors="replace").splitlines()
    assert not any("Traceback" in line for line in lines), completed.stderr
    modules = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    return completed.stdout, completed.returncode, modules


@pytest.mark.parametrize(
    "options",
    [("--format", "json"), ("--format", "text", "--color", "never"), ("--format", "sarif")],
    ids=["json", "text", "sarif"],
)
def test_a_warm_check_prints_the_kept_output_without_importing_the_readers(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    root, cache = workspace_copy(tmp_path), tmp_path / "cache"
    cold_output, cold_status, cold_modules = check_imports(root, cache, *options)
    warm_output, warm_status, warm_modules = check_imports(root, cache, *options)
    # The probe sees them when they are imported (pydantic only words a config's mistakes: `config_tables`).
    assert cold_modules >= NEVER_WARM - {"pydantic", "server.engine.config_schema"}
    assert (warm_output, warm_status) == (cold_output, cold_status)
    assert sorted(NEVER_WARM & warm_modules) == []  # without `checked`: the kept output, not a new run


def run_key_in(folder: Path, pythonpath: list[Path]) -> tuple[str, bool]:
    """`run_key` computed by a new interpreter in `folder` whose import path starts with `pythonpath`, and
    whether it imported `regex` to compute it."""
    probe = "import sys; from server.engine.run_cache import run_key; print(run_key([], []), 'regex' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=folder,  # not the repository's: `python -c` imports from the current folder first
        env={**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [*pythonpath, REPO]))},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key, imported = completed.stdout.split()
    return key, imported == "True"


def test_the_run_key_follows_the_regex_that_would_be_imported_without_importing_it(tmp_path: Path) -> None:
    installed = Path(regex.__file__).parent
    shadow = tmp_path / "shadow"
    shutil.copytree(installed, shadow / "regex", ignore=shutil.ignore_patterns("__pycache__", "tests"))
    keys = [run_key_in(tmp_path, []), run_key_in(tmp_path, []), run_key_in(tmp_path, [shadow])]
    rewrite_in_place(shadow / "regex" / "_main.py")  # a rebuild of the same version
    keys.append(run_key_in(tmp_path, [shadow]))
    assert [imported for _, imported in keys] == [False] * 4
    assert keys[0][0] == keys[1][0]  # the same regex: the same key
    assert len({key for key, _ in keys[1:]}) == 3


def test_the_preset_choices_are_the_built_in_presets() -> None:
    assert tuple(sorted(PRESETS)) == PRESET_NAMES


def rewrite_in_place(path: Path) -> None:
    """Other bytes of the same size in the same file, its mtime put back: only its ctime tells."""
    before = path.stat()
    text = path.read_bytes()
    path.write_bytes(text[:-1] + (b" " if text[-1:] != b" " else b"\n"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_the_run_key_follows_every_source_file_of_the_engine_and_the_cli(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "server", copy / "server", ignore=shutil.ignore_patterns("__pycache__"))
    keys = [run_key_in(tmp_path, [copy]), run_key_in(tmp_path, [copy])]
    for source in ("engine/replay/similar.py", "engine/rules.py", "cli/report.py"):
        rewrite_in_place(copy / "server" / source)
        keys.append(run_key_in(tmp_path, [copy]))
    assert keys[0] == keys[1]
    assert len(set(keys[1:])) == 4
