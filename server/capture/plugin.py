"""The pytest plugin (entry point `pytest11: replay-lens`): off unless `--replay-lens` is given.

`--replay-lens=capture` captures every chat-model call of each test into
`.replay-lens/captures/` under the project root (the folder of its Replay Lens config);
`--replay-lens=record` also writes each test's scenario as a fixture. The tests run exactly
as without the plugin: nothing here raises into a test, and a capture that cannot be written
is told in the terminal summary (collected from every pytest-xdist worker), never as a failure.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from server.capture.calls import TestCalls
    from server.capture.store import Scenario

OPTION = "--replay-lens"
MODES = ("capture", "record")
MARKER = "replay_lens"
_WORKER_KEY = "replay_lens"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("replay-lens", "Replay Lens: capture the inputs of chat-model calls")
    group.addoption(
        OPTION,
        choices=MODES,
        default=None,
        dest="replay_lens",
        help="capture: write every chat-model call of each test (its exact input, caller, output) to "
        ".replay-lens/captures/ for `python -m server check`; record: also write each test's scenario as "
        "a fixture with a recording of its raw inputs.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario=None, mode=None, fixture=None): the Replay Lens scenario a test replays "
        "(its fixture, relative to the project root) for --replay-lens=record and for comparing captures.",
    )
    mode = config.getoption("replay_lens", None)
    if mode is not None:
        config.pluginmanager.register(CapturePlugin(config, mode), "replay-lens-capture")


class CapturePlugin:
    """One test run's capture: attaches the LangChain handler, writes each test's calls when it ends."""

    def __init__(self, config: pytest.Config, mode: str) -> None:
        # Imported only when the capture is on: a plain test run pays for nothing.
        from server.capture.calls import CallLog  # noqa: PLC0415
        from server.engine.config import ConfigError  # noqa: PLC0415
        from server.engine.workspace import load_project_config  # noqa: PLC0415

        try:
            from server.capture import handler  # noqa: PLC0415
        except ImportError as exc:
            raise pytest.UsageError(
                f"{OPTION}={mode} captures LangChain chat-model calls, but LangChain cannot be imported here "
                f"({exc}). Install langchain-core in the environment that runs the tests, or run pytest "
                f"without {OPTION}."
            ) from None
        try:
            self.project = load_project_config(Path(config.rootpath))
        except ConfigError as error:
            raise pytest.UsageError(f"{OPTION}: invalid Replay Lens configuration: {error}") from None
        self.config = config
        self.mode = mode
        settings = self.project.capture
        self.log = CallLog(dict(settings.callers), settings.default_caller)
        self.handler = handler
        self.problems: list[str] = []
        self.tests = 0
        self.calls = 0
        self.collected: set[str] = set()
        self.deselected = False
        handler.attach(self.log)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        del nextitem
        self.log.begin(item.nodeid)
        try:
            return (yield)
        finally:
            self._save(item)

    def _save(self, item: pytest.Item) -> None:
        """Write the test's capture (and fixture); any failure becomes a problem told at the end."""
        from server.capture import store  # noqa: PLC0415

        test = self.log.end()
        if test is None:
            return
        self.problems.extend(f"{test.nodeid}: {problem}" for problem in test.problems)
        try:
            scenario = self._scenario(item, store)
            lines, unkeyed = store.capture_lines(test, self.project, scenario)
            self.problems.extend(f"{test.nodeid}: {problem}" for problem in unkeyed)
            if lines:
                store.ensure_gitignore(self.project)
            store.write_capture(store.capture_path(self.project, test.nodeid), lines)
            if lines:
                self.tests += 1
                self.calls += len(lines)
            if self.mode == "record" and scenario is not None and test.calls:
                self._record(test, scenario, store)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            self.problems.append(f"{test.nodeid}: capture not written:{where}: {exc.strerror or exc}")
        except Exception as exc:  # never fail or change a test because of the capture
            self.problems.append(f"{test.nodeid}: capture not written: {type(exc).__name__}: {exc}")

    def _record(self, test: TestCalls, scenario: Scenario, store: Any) -> None:
        """Write the scenario's fixture, unless a call failed: a half-recorded run never replaces a fixture."""
        failed = [call for call in test.calls if call.input is None or call.error is not None]
        if failed:
            first = failed[0]
            why = first.error or "its input could not be captured"
            self.problems.append(
                f"{test.nodeid}: fixture {scenario.fixture.name} not written: call {first.seq} "
                f"({first.caller or 'default caller'}) "
                f"failed ({why})"
            )
            return
        left_out = store.write_fixture(test, scenario, self.project)
        self.problems.extend(f"{test.nodeid}: {problem}" for problem in left_out)

    def _scenario(self, item: pytest.Item, store: Any) -> Scenario | None:
        """The marker's scenario (with `record`, every test has one: named after the test by default)."""
        marker = item.get_closest_marker(MARKER)
        options = dict(marker.kwargs) if marker is not None else {}
        if marker is not None and marker.args and "scenario" not in options:
            options["scenario"] = marker.args[0]
        if not options and self.mode != "record":
            return None
        name = str(options.get("scenario") or re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name).strip("_"))
        mode = str(options.get("mode") or "recorded")
        fixture = options.get("fixture")
        if fixture is None:
            stem = f"{name}.{options['mode']}" if options.get("mode") else name
            path = self.project.root / self.project.capture.fixtures_dir / f"{stem}.json"
        else:
            path = self.project.root / str(fixture)
        scenario: Scenario = store.Scenario(name, mode, path)
        return scenario

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected = self.deselected or bool(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected.update(item.nodeid for item in session.items)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # a pytest-xdist worker: the controller tells
            workeroutput[_WORKER_KEY] = json.dumps(
                {
                    "problems": self.problems,
                    "tests": self.tests,
                    "calls": self.calls,
                    "collected": sorted(self.collected),
                    "deselected": self.deselected,
                }
            )
        else:
            self._prune(session, exitstatus)
        self.handler.detach()

    def _prune(self, session: pytest.Session, exitstatus: int) -> None:
        """After a whole-suite run, remove the captures of tests that no longer exist (renamed, deleted):
        they would report misses nobody can reproduce. A run of some tests only keeps the others'."""
        from server.capture import store  # noqa: PLC0415

        option = session.config.option
        whole = (
            exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
            and not session.shouldstop
            and not session.shouldfail
            and not self.deselected
            and not getattr(option, "keyword", "")
            and not getattr(option, "markexpr", "")
            and session.config.args_source != pytest.Config.ArgsSource.ARGS
            and bool(self.collected)
        )
        if not whole:
            return
        kept = {store.capture_path(self.project, nodeid).name for nodeid in self.collected}
        try:
            for path in store.captures_dir(self.project).glob("*.jsonl"):
                if path.name not in kept:
                    path.unlink(missing_ok=True)
        except OSError as exc:
            self.problems.append(f"old captures not removed: {exc.strerror or exc}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        del error
        told = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if told:
            document = json.loads(told)
            self.problems.extend(document["problems"])
            self.tests += document["tests"]
            self.calls += document["calls"]
            self.collected.update(document["collected"])
            self.deselected = self.deselected or document["deselected"]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if getattr(self.config, "workerinput", None) is not None:
            return
        from server.capture import store  # noqa: PLC0415

        folder = os.path.relpath(store.captures_dir(self.project), Path.cwd())
        terminalreporter.section("replay-lens")
        terminalreporter.write_line(
            f"captured {self.calls} chat-model call{'s' * (self.calls != 1)} of {self.tests} "
            f"test{'s' * (self.tests != 1)} in {folder}; verdicts: python -m server check"
        )
        for problem in self.problems:
            terminalreporter.write_line(f"warning: {problem}", yellow=True)
