"""A real LangChain/LangGraph project, made on disk for the capture tests.

Its replaying chat model is what a user writes (deer-flow's): a `BaseChatModel` that keys
each call per SPEC §4 with its own copy of the normalization (bench/reference.py, the direct
transcription), answers from a deer-flow fixture and raises on a miss. Its graph is a real
LangGraph `StateGraph` with two nodes calling the model, the second as a title agent
(tagged `middleware:title`, like deer-flow's title middleware). Recording uses a scripted
model in place of the real one. The tests run it with `pytest` in a subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

PYPROJECT = """\
[project]
name = "demo-agent"
version = "0"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
asyncio_default_fixture_loop_scope = "function"

[tool.replay-lens]
preset = "deerflow"

[tool.replay-lens.capture]
fixtures-dir = "tests/fixtures/replay"

[tool.replay-lens.capture.callers]
"middleware:title" = "middleware:title"
"""

AGENT = '''\
"""The agent under test: a lead node answers, a title node names the conversation."""

import os
from typing import TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import Annotated

SYSTEM = "You are the demo agent. Answer in one sentence."
TITLE_PROMPT = "Write a short title for this conversation:\\n{question}"
REQUEST_ID = os.environ.get("DEMO_REQUEST_ID", "req_7Hq2Lm9xPz4Kw8Rt")


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    title: str


def build(model):
    def lead(state):
        return {"messages": [model.invoke([SystemMessage(SYSTEM), *state["messages"]])]}

    def title(state):
        question = state["messages"][0].content
        config = {"tags": ["middleware:title"], "run_name": "title_agent"}
        reply = model.invoke([HumanMessage(TITLE_PROMPT.format(question=question))], config=config)
        return {"title": reply.content}

    graph = StateGraph(State)
    graph.add_node("lead", lead)
    graph.add_node("title", title)
    graph.add_edge(START, "lead")
    graph.add_edge("lead", "title")
    graph.add_edge("title", END)
    return graph.compile()


def ask(model, question):
    text = f"Request {REQUEST_ID}: {question}"
    return build(model).invoke({"messages": [HumanMessage(text, name="user-input")], "title": ""})
'''

MODELS = '''\
"""The replaying model (as a user writes it: keys per SPEC §4, FIFO per key, raises on a miss)
and the scripted model that stands in for the real one while recording."""

import itertools
import json
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, messages_from_dict, messages_to_dict
from langchain_core.outputs import ChatGeneration, ChatResult

import replaykeys


class ReplayMiss(AssertionError):
    pass


def caller_of(run_manager):
    tags = run_manager.tags if run_manager is not None else []
    return "middleware:title" if "middleware:title" in tags else "lead_agent"


class ReplayChatModel(BaseChatModel):
    fixture: str
    queues: dict = {}

    def model_post_init(self, context):
        document = json.loads(Path(self.fixture).read_text(encoding="utf-8"))
        self.queues = {}
        for turn in document["turns"]:
            self.queues.setdefault(turn["input_hash"], []).append(turn["output"])

    @property
    def _llm_type(self):
        return "replay"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        caller = caller_of(run_manager)
        conversation, key = replaykeys.keys(caller, messages_to_dict(messages))
        queue = self.queues.get(key) or self.queues.get(conversation)
        if not queue:
            preview = replaykeys.canonical(messages_to_dict(messages))[:800]
            raise ReplayMiss(f"replay miss for {caller}: key {key}\\n{preview}")
        message = messages_from_dict([queue.pop(0)])[0]
        return ChatResult(generations=[ChatGeneration(message=message)])


class ScriptedChatModel(BaseChatModel):
    """Stands in for the real model while recording: a fixed answer per caller, unique message ids."""

    counter: object = None

    def model_post_init(self, context):
        self.counter = itertools.count()

    @property
    def _llm_type(self):
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        caller = caller_of(run_manager)
        question = messages[-1].content
        text = f"Title: {question[-20:]}" if caller == "middleware:title" else f"Answer to: {question}"
        message = AIMessage(text, id=f"msg-{next(self.counter)}-{abs(hash(question)) % 10**8}")
        return ChatResult(generations=[ChatGeneration(message=message)])
'''

CONFTEST = """\
import os
from pathlib import Path

import pytest

from models import ReplayChatModel, ScriptedChatModel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def model(request):
    marker = request.node.get_closest_marker("replay_lens")
    if os.environ.get("DEMO_RECORD"):
        return ScriptedChatModel()
    return ReplayChatModel(fixture=str(ROOT / marker.kwargs["fixture"]))
"""

TESTS = """\
import pytest

from agent import ask


@pytest.mark.replay_lens(scenario="greet", mode="ultra", fixture="tests/fixtures/replay/greet.ultra.json")
def test_greet(model):
    state = ask(model, "Say hi to Ada.")
    assert state["title"].startswith("Title:")
    assert state["messages"][-1].content.startswith("Answer to:")


@pytest.mark.replay_lens(scenario="weather", mode="ultra", fixture="tests/fixtures/replay/weather.ultra.json")
def test_weather(model):
    state = ask(model, "What is the weather in Lisbon on 2026-12-06?")
    assert "Lisbon" in state["messages"][-1].content


def test_without_model():
    assert 1 + 1 == 2
"""


@dataclass
class Run:
    code: int
    output: str

    @property
    def outcomes(self) -> dict[str, int]:
        """`{"passed": n, "failed": m, ...}` from pytest's summary line."""
        last = self.output.strip().splitlines()[-1] if self.output.strip() else ""
        return {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|error|errors)", last)}


def make_project(root: Path) -> Path:
    (root / "tests" / "fixtures" / "replay").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (root / "agent.py").write_text(AGENT, encoding="utf-8")
    (root / "models.py").write_text(MODELS, encoding="utf-8")
    (root / "replaykeys.py").write_text((REPO / "bench" / "reference.py").read_text(encoding="utf-8"), "utf-8")
    (root / "tests" / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (root / "tests" / "test_agent.py").write_text(TESTS, encoding="utf-8")
    return root


def run_pytest(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    """`python -m pytest` in the project, with this interpreter (the plugin comes from its entry point)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DEMO_"))}
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout + completed.stderr)
