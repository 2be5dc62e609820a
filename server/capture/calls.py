"""The calls one test made, as the plugin collects them: no LangChain here, only plain data.

A call is opened by `on_chat_model_start` (its input is frozen as JSON text at once, since
the caller may mutate its message list afterwards) and closed by `on_llm_end` or
`on_llm_error`. Calls are kept per test in start order; a call still open when its test ends
is written with an error, never dropped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

UNFINISHED = "the call did not finish before its test ended"


@dataclass(slots=True)
class Call:
    """One chat-model call of a test: what the model received, who called it, what it answered."""

    seq: int
    caller: str
    model: str | None
    input: list[Any] | None
    output: Any = None
    error: str | None = None
    finished: bool = False


def resolve_caller(callers: Mapping[str, str], default: str, tags: Iterable[str], node: Any, name: Any) -> str:
    """The caller a call is keyed with: the first of its tags, its LangGraph node, its run name that
    the project's `[capture.callers]` maps, else `default`.

    Tags come first because a node's middleware tags its own calls (deer-flow's title middleware
    runs inside the agent's node with the tag `middleware:title`).
    """
    for candidate in (*tags, node, name):
        if isinstance(candidate, str) and candidate in callers:
            return callers[candidate]
    return default


@dataclass
class TestCalls:
    """The calls of the test that is running, and why any of them could not be captured."""

    nodeid: str
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class CallLog:
    """Calls by test, fed by LangChain's callbacks from any thread (graph nodes run in a pool)."""

    def __init__(self, callers: Mapping[str, str], default_caller: str) -> None:
        self.callers = dict(callers)
        self.default_caller = default_caller
        self._lock = threading.Lock()
        self._test: TestCalls | None = None
        self._open: dict[Any, Call] = {}

    def begin(self, nodeid: str) -> None:
        with self._lock:
            self._test = TestCalls(nodeid)
            self._open.clear()

    def end(self) -> TestCalls | None:
        """The calls of the test that ended; a call left open is marked unfinished."""
        with self._lock:
            test, self._test = self._test, None
            for call in self._open.values():
                call.error = call.error or UNFINISHED
            self._open.clear()
        return test

    def start(
        self, run_id: Any, messages: list[Any], *, tags: Iterable[str], node: Any, name: Any, model: str | None
    ) -> None:
        """Open a call; `messages` are `messages_to_dict` entries, frozen now (or refused, with a problem)."""
        caller = resolve_caller(self.callers, self.default_caller, tags, node, name)
        frozen: list[Any] | None
        problem = None
        try:
            frozen = json.loads(json.dumps(messages, ensure_ascii=False))
        except (TypeError, ValueError, RecursionError) as exc:
            frozen, problem = None, f"its input messages are not JSON-serializable ({exc})"
        with self._lock:
            test = self._test
            if test is None:
                return  # a call outside any test (collection, session fixtures at exit): not a test's call
            call = Call(len(test.calls), caller, model, frozen)
            test.calls.append(call)
            self._open[run_id] = call
            if problem is not None:
                test.problems.append(f"call {call.seq} ({caller}): {problem}; not captured")

    def finish(self, run_id: Any, output: Any = None, error: str | None = None) -> None:
        with self._lock:
            call = self._open.pop(run_id, None)
            if call is None:
                return
            call.finished = True
            if error is not None:
                call.error = error
                return
            try:
                call.output = json.loads(json.dumps(output, ensure_ascii=False))
            except (TypeError, ValueError, RecursionError) as exc:
                call.error = f"its output is not JSON-serializable ({exc})"

    def problem(self, message: str) -> None:
        """A callback that failed: told at the end of the run, never raised into the test."""
        with self._lock:
            if self._test is not None:
                self._test.problems.append(message)
