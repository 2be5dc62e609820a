"""The server and the CLI never run code from the workspace, never unpickle, never decrypt (issue 7, item 5).

Statically: every module of the package is parsed and every import and call is
resolved through its aliases (`import pickle as p; p.loads` is `pickle.loads`).
No module imports a deserializer that builds objects, a code runner, an import
machinery or a cipher; no call evaluates, compiles or imports a name; no
`shell=`; attribute names chosen at run time only where listed below; and the one
child process (the summarizer of a part of a big recording) runs a constant
program, isolated (`-I`), and is given data only.
The scan is itself tested on planted violations, so it can fail.

At run time: a LangGraph database whose pickled, encrypted and msgpack-extension
checkpoints would each create a file if decoded as objects is read by the CLI
and the server; a workspace full of modules named like the ones the server
imports is served and checked from inside. Nothing is created.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import pathlib
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest

from server.engine.sessions.serde import decode
from tests.conftest import REPO, run_cli
from tests.lsp.helpers import SERVER_ENV, copy_samples
from tests.lsp.rpc import RawServer

PACKAGE = REPO / "server"

FORBIDDEN_MODULES = {
    "pickle": "unpickling calls whatever the data names",
    "_pickle": "unpickling",
    "cPickle": "unpickling",
    "dill": "unpickling",
    "cloudpickle": "unpickling",
    "joblib": "unpickling",
    "jsonpickle": "builds objects named by the data",
    "shelve": "unpickling",
    "marshal": "loads code objects",
    "yaml": "its loaders can build objects named by the data",
    "multiprocessing": "pickles what it passes between processes",
    "runpy": "runs modules",
    "code": "runs code",
    "codeop": "compiles code",
    "imp": "imports by name",
    "zipimport": "imports by name",
    "pkgutil": "resolves and imports names",
    "ctypes": "calls native code",
    "cffi": "calls native code",
    "pty": "spawns processes",
    "cryptography": "decrypts",
    "Crypto": "decrypts",
    "Cryptodome": "decrypts",
    "nacl": "decrypts",
}
FORBIDDEN_CALLS = {
    "eval": "evaluates text",
    "exec": "runs text",
    "compile": "compiles text",
    "__import__": "imports by name",
    "breakpoint": "opens a debugger",
    "globals": "reaches any name by a string",
    "vars": "reaches any name by a string",
    "importlib.import_module": "imports by name",
    "importlib.reload": "runs a module again",
    "os.system": "runs a shell",
    "os.popen": "runs a shell",
    "os.startfile": "runs a program",
    "asyncio.create_subprocess_shell": "runs a shell",
    "asyncio.create_subprocess_exec": "runs a program",
    "concurrent.futures.ProcessPoolExecutor": "pickles what it passes",
}
FORBIDDEN_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn", "os.fork", "importlib.util.", "importlib.machinery.")
FORBIDDEN_METHODS = {"enable_load_extension": "loads native SQLite extensions", "load_extension": "loads native code"}
FORBIDDEN_NAMES = {"ImportString": "pydantic imports the configured string", "__builtins__": "reaches eval by a string"}
ALLOWED_IMPORTLIB = ("importlib.metadata",)  # the package's own version, read from its metadata
DYNAMIC_ATTRIBUTES = {
    # (module, function): why the attribute name it reads at run time is not the workspace's
    ("server/engine/checks.py", "_changes"): "a key field, from a literal tuple of names",
    ("server/lsp/settings.py", "updated"): "a field of the settings dataclass",
}
PART_CHILD = ("server/engine/summary_children.py", "_start_child")
RUN_TESTS = ("server/lsp/run_tests.py", "_start_pytest")
"""The one place the server runs the user's code: pytest, on the user's command, in a trusted workspace."""


class Scan(ast.NodeVisitor):
    """Everything in one module that could run code, import, unpickle or decrypt because of data."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.aliases: dict[str, str] = {}
        self.function = "<module>"
        self.found: list[str] = []

    def flag(self, node: ast.AST, why: str) -> None:
        self.found.append(f"{self.name}:{getattr(node, 'lineno', 0)} ({self.function}): {why}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[(alias.asname or alias.name).split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            self.check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
            self.check_module(node, f"{module}.{alias.name}")
            self.check_call_name(node, f"{module}.{alias.name}")
            if alias.name in FORBIDDEN_NAMES:
                self.flag(node, f"{alias.name}: {FORBIDDEN_NAMES[alias.name]}")

    def check_module(self, node: ast.AST, dotted: str) -> None:
        top = dotted.split(".", maxsplit=1)[0]
        if top in FORBIDDEN_MODULES:
            self.flag(node, f"imports {dotted}: {FORBIDDEN_MODULES[top]}")
        if top == "importlib" and dotted != "importlib" and not dotted.startswith(ALLOWED_IMPORTLIB):
            self.flag(node, f"imports {dotted}: import machinery")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def resolve(self, node: ast.expr) -> str | None:
        """`p.loads` as `pickle.loads` when `p` is `pickle`; None for anything but a dotted name."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base is not None else None
        return None

    def check_call_name(self, node: ast.AST, dotted: str) -> None:
        if dotted == "asyncio.create_subprocess_exec" and (self.name, self.function) == RUN_TESTS:
            return
        if dotted in FORBIDDEN_CALLS:
            self.flag(node, f"{dotted}: {FORBIDDEN_CALLS[dotted]}")
        elif dotted.startswith(FORBIDDEN_PREFIXES):
            self.flag(node, f"{dotted}: runs a program or imports by name")
        elif (
            dotted.split(".", maxsplit=1)[0] == "subprocess"
            and dotted != "subprocess.TimeoutExpired"
            and (self.name, self.function) != PART_CHILD
        ):
            self.flag(node, f"{dotted}: a child process outside the part summarizer")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("eval", "exec", "__import__", "breakpoint") and node.id not in self.aliases:
            self.flag(node, f"{node.id}: {FORBIDDEN_CALLS[node.id]}")
        if node.id in FORBIDDEN_NAMES:
            self.flag(node, f"{node.id}: {FORBIDDEN_NAMES[node.id]}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_NAMES:
            self.flag(node, f"{node.attr}: {FORBIDDEN_NAMES[node.attr]}")
        dotted = self.resolve(node)
        if dotted is not None and dotted.split(".")[0] in ("subprocess", "os", "asyncio", "importlib", "concurrent"):
            self.check_call_name(node, dotted)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        dotted = self.resolve(node.func)
        if dotted is not None:
            self.check_call_name(node, dotted)
            constant = len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
            listed = (self.name, self.function) in DYNAMIC_ATTRIBUTES
            if dotted in ("getattr", "setattr", "delattr") and not constant and not listed:
                self.flag(node, f"{dotted} of a name chosen at run time")
        if isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_METHODS:
            self.flag(node, f".{node.func.attr}(): {FORBIDDEN_METHODS[node.func.attr]}")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                self.flag(node, "shell=: a command line through a shell")
        self.generic_visit(node)


def scan(source: str, name: str = "planted.py") -> list[str]:
    visitor = Scan(name)
    visitor.visit(ast.parse(source))
    return visitor.found


def modules() -> list[Path]:
    found = sorted(PACKAGE.rglob("*.py"))
    assert len(found) > 50
    return found


def test_nothing_in_the_package_can_run_import_unpickle_or_decrypt() -> None:
    found = [
        violation
        for path in modules()
        for violation in scan(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())
    ]
    assert found == []


@pytest.mark.parametrize(
    "planted",
    [
        "import pickle\npickle.loads(data)",
        "import pickle as p\np.loads(data)",
        "from pickle import loads as decode\ndecode(data)",
        "from _pickle import Unpickler",
        "import marshal",
        "import yaml\nyaml.load(text)",
        "from multiprocessing import Pool",
        "eval(text)",
        "run = eval\nrun(text)",
        "exec(text, {})",
        "compile(text, 'x', 'exec')",
        "__import__(name)",
        "import importlib\nimportlib.import_module(name)",
        "from importlib import import_module\nimport_module(name)",
        "from importlib.util import spec_from_file_location",
        "import os\nos.system(command)",
        "from os import execv\nexecv(path, args)",
        "import subprocess\nsubprocess.run(command, shell=True)",
        "import subprocess as sp\nsp.Popen(['python', '-c', code])",
        "from subprocess import check_output\ncheck_output(['sh'])",
        "import asyncio\nasyncio.create_subprocess_shell(command)",
        "from concurrent.futures import ProcessPoolExecutor",
        "getattr(module, name)()",
        "connection.enable_load_extension(True)",
        "from pydantic import ImportString",
        "__builtins__['eval'](text)",
        "from cryptography.fernet import Fernet",
        "import runpy\nrunpy.run_path(path)",
        "globals()[name]()",
    ],
)
def test_the_scan_finds_what_it_looks_for(planted: str) -> None:
    assert scan(planted), planted


def test_the_replay_tests_command_runs_pytest_with_the_capture_and_nothing_else() -> None:
    """The command runs `python -m pytest --replay-lens=capture` (node ids as arguments), never a shell."""
    module = ast.parse((REPO / RUN_TESTS[0]).read_text(encoding="utf-8"))
    (function,) = [
        node for node in ast.walk(module) if isinstance(node, ast.AsyncFunctionDef) and node.name == RUN_TESTS[1]
    ]
    (call,) = [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "asyncio.create_subprocess_exec"
    ]
    assert [ast.unparse(item) for item in call.args] == [
        "sys.executable",
        "'-m'",
        "'pytest'",
        "'--replay-lens=capture'",
        "'-q'",
        "'-p'",
        "'no:cacheprovider'",
        "*tests",
    ]
    assert "shell" not in {keyword.arg for keyword in call.keywords}
    guard = ast.unparse(module)
    assert "if not session.trusted:" in guard


def test_the_part_summarizer_runs_a_fixed_program_on_data() -> None:
    """A part of a big recording is summarized by a constant program in the package's folder, given JSON data."""
    module = ast.parse((REPO / PART_CHILD[0]).read_text(encoding="utf-8"))
    (function,) = [
        node for node in ast.walk(module) if isinstance(node, ast.FunctionDef) and node.name == PART_CHILD[1]
    ]
    (call,) = [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "subprocess.Popen"
    ]
    argv = call.args[0]
    assert isinstance(argv, ast.List)
    assert [ast.unparse(item) for item in argv.elts] == ["sys.executable", "'-I'", "'-S'", "'-c'", "_CHILD", "*found"]
    (assignment,) = [
        node
        for node in module.body
        if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["_CHILD"]
    ]
    assert isinstance(assignment.value, ast.Constant)
    assert assignment.value.value == (
        "import sys; sys.path[:0] = sys.argv[1:]; from server.engine.part_child import main; main()"
    )
    assert {keyword.arg: ast.unparse(keyword.value) for keyword in call.keywords}["cwd"] == "package"
    assert all(keyword.arg != "shell" for keyword in call.keywords)
    child = (REPO / "server/engine/part_child.py").read_text(encoding="utf-8")
    assert scan(child, "part_child.py") == []
    assert "json.loads(sys.stdin.buffer.readline())" in child


# -- at run time --------------------------------------------------------------------------------------------------
THREAD = "trapped"


def trapped_database(path: Path, markers: Path) -> None:
    """A LangGraph checkpoint database whose every blob would create a file in `markers` if decoded as objects.

    A pickle that calls `Path.touch`, a msgpack extension that LangGraph's own
    serializer would turn into `os.system("touch …")`, another into
    `Path(…).touch()`, and an encrypted blob.
    """

    class Trap:
        def __reduce__(self) -> tuple[object, tuple[Path]]:
            return pathlib.Path.touch, (markers / "unpickled",)

    system = msgpack.ExtType(0, msgpack.packb(["os", "system", f"touch {markers / 'system'}"]))
    touch = msgpack.ExtType(3, msgpack.packb(["pathlib", "Path", str(markers / "constructed"), "touch"]))
    blobs = [
        ("pickle", pickle.dumps(Trap())),
        ("msgpack", msgpack.packb({"v": 4, "id": "1", "channel_values": {"messages": [], "x": system, "y": touch}})),
        ("msgpack+aes", os.urandom(64)),
    ]
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE checkpoints (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL DEFAULT '', "
            "checkpoint_id TEXT NOT NULL, parent_checkpoint_id TEXT, type TEXT, checkpoint BLOB, metadata BLOB, "
            "PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))"
        )
        for number, (kind, blob) in enumerate(blobs):
            connection.execute(
                "INSERT INTO checkpoints VALUES (?, '', ?, ?, ?, ?, ?)",
                (THREAD, f"{number:04d}", f"{number - 1:04d}" if number else None, kind, blob, b"{}"),
            )
    connection.close()


def connection_rows(database: Path, kind: str) -> list[tuple[str, bytes]]:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows: list[tuple[str, bytes]] = connection.execute(
            "SELECT type, checkpoint FROM checkpoints WHERE type = ?", (kind,)
        ).fetchall()
    return rows


def test_the_traps_are_real(tmp_path: Path) -> None:
    """The control: decoding the blobs as Python objects would create the files."""

    class Trap:
        def __reduce__(self) -> tuple[object, tuple[Path]]:
            return pathlib.Path.touch, (tmp_path / "unpickled",)

    pickle.loads(pickle.dumps(Trap()))
    assert (tmp_path / "unpickled").exists()


async def test_checkpoints_are_read_as_data_never_as_objects(tmp_path: Path) -> None:
    workspace, markers = copy_samples(tmp_path / "workspace"), tmp_path / "markers"
    markers.mkdir()
    database = workspace / "checkpoints.sqlite"
    trapped_database(database, markers)
    steps = run_cli("steps", database, "--session-id", THREAD, "--format", "json", cwd=workspace).json()
    listing = run_cli("sessions", workspace, "--format", "json", cwd=workspace).json()
    server = await RawServer.start()
    try:
        await server.initialize(workspace)
        listed = (await server.request("replayLens/sessions", {}))["result"]
        page = (await server.request("replayLens/steps", {"uri": database.as_uri(), "sessionId": THREAD}))["result"]
    finally:
        assert await server.close() == 0
    assert list(markers.iterdir()) == []
    assert page == steps and THREAD in {entry["id"] for entry in listed["sessions"]}
    assert THREAD in {entry["id"] for entry in listing["sessions"]}
    problems = [step.get("problem") or "" for step in steps["steps"]]
    assert any("never unpickled" in problem for problem in problems)
    assert any("never decrypted" in problem for problem in problems)
    ((_, blob),) = connection_rows(database, "msgpack")
    values = decode("msgpack", blob)["channel_values"]  # what the reader made of the extensions: text, no call
    assert (values["x"]["$type"], values["y"]["$type"]) == ("os.system", "pathlib.Path")


def imported_modules() -> list[str]:
    """The top-level names of every module the server and the CLI import (pydantic with a config file to read)."""
    modules = "server.__main__, server.lsp.server, server.engine.config_schema"
    probe = f"import sys, {modules}; print(' '.join(sorted(sys.modules)))"
    names = subprocess.run(
        [sys.executable, "-c", probe], env=SERVER_ENV, capture_output=True, text=True, check=True
    ).stdout.split()
    return sorted({name.split(".", maxsplit=1)[0] for name in names} - {"__main__", "builtins", "sys"})


async def test_a_workspace_full_of_modules_named_like_ours_runs_none_of_them(tmp_path: Path) -> None:
    """Served and checked from inside the workspace, as editors start it: with the installed script, or `python -P`."""
    workspace, markers = copy_samples(tmp_path / "workspace"), tmp_path / "markers"
    markers.mkdir()
    names = imported_modules()
    assert {"pydantic", "msgpack", "pygls", "lsprotocol", "watchfiles", "json", "sqlite3"} <= set(names)
    for name in [*names, "sitecustomize", "usercustomize"]:
        (workspace / f"{name}.py").write_text(f"open({str(markers / name)!r}, 'w').close()\n", encoding="utf-8")
    (workspace / "server").mkdir()
    (workspace / "server" / "__init__.py").write_text(f"open({str(markers / 'server')!r}, 'w').close()\n")
    script = Path(sys.executable).with_name("replay-lens")
    for command in ([str(script)], [sys.executable, "-P", "-m", "server"]):
        checked = subprocess.run(
            [*command, "check", "--format", "json"], cwd=workspace, capture_output=True, check=False
        )
        assert json.loads(checked.stdout)["summary"]["stale"] == 3
        server = await RawServer.start(cwd=workspace, command=[*command, "--stdio"])
        try:
            await server.initialize(workspace)
            symbols = await server.request(
                "textDocument/documentSymbol",
                {"textDocument": {"uri": (workspace / "replay" / "write_note.ultra.json").as_uri()}},
            )
            assert len(symbols["result"]) == 4
        finally:
            assert await server.close() == 0
    assert list(markers.iterdir()) == []


def child_modules() -> list[str]:
    """The top-level names of every module a summarizing child imports, started as the server starts it."""
    import regex  # noqa: PLC0415

    probe = "import sys; sys.path[:0] = sys.argv[1:]; import server.engine.part_child; print(' '.join(sys.modules))"
    found = [str(REPO), str(Path(regex.__file__).resolve().parents[1])]
    names = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, *found], capture_output=True, text=True, check=True
    ).stdout.split()
    return sorted({name.split(".", maxsplit=1)[0] for name in names})


@pytest.mark.parametrize(
    "inherited",
    [{"PYTHONSAFEPATH": "1"}, {"PYTHONPATH": str(REPO)}, {"PYTHONSAFEPATH": "1", "PYTHONPATH": str(REPO)}],
    ids=["safe-path", "pythonpath", "both"],
)
async def test_child_processes_run_isolated_under_any_environment(tmp_path: Path, inherited: dict[str, str]) -> None:
    """A workspace holding a module named like every module the server and its children import, a config with
    rules, and a recording big enough to be summarized by child processes, is served from inside under each
    inherited environment: nothing of the workspace runs, and the children really summarize (their parts
    are logged; a child that failed would leave its part to the server and log why)."""
    workspace, markers = copy_samples(tmp_path / "workspace"), tmp_path / "markers"
    markers.mkdir()
    names = sorted({*imported_modules(), *child_modules(), "sys", "sitecustomize", "usercustomize"})
    assert {"json", "re", "regex", "zlib", "hashlib", "server"} <= set(names)
    for name in names:
        (workspace / f"{name}.py").write_text(f"open({str(markers / name)!r}, 'w').close()\n", encoding="utf-8")
    (workspace / "server").mkdir()
    (workspace / "server" / "__init__.py").write_text(f"open({str(markers / 'server')!r}, 'w').close()\n")
    config = workspace / "replay-lens.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[[rules]]\nname = "squares"\npattern = "squared"\n')
    lines = (workspace / "recordings" / "write_note.ultra.jsonl").read_bytes().splitlines(keepends=True)
    big = workspace / "recordings" / "big.jsonl"
    big.write_bytes(b"".join(lines) * (9_000_000 // sum(map(len, lines)) + 1))  # over summary_children.PART_BYTES
    clean = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    command = [sys.executable, "-P", "-m", "server", "--stdio", "--log-level", "debug"]
    server = await RawServer.start(cwd=workspace, env={**clean, **inherited}, command=command)
    try:
        await server.initialize(workspace)
        await server.until(lambda: big.as_uri() in server.diagnostics(), what="the big recording's diagnostics")
    finally:
        assert await server.close() == 0
    log = server.stderr.decode(errors="replace")
    assert "summarized bytes 0-" in log and str(big) in log, log[-2000:]
    assert "summarizing process failed" not in log and "No module named" not in log
    assert list(markers.iterdir()) == []
