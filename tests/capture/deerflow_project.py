"""A test suite like deer-flow's, made on disk around copies of deer-flow's real fixtures.

deer-flow replays its agent from `tests/fixtures/replay/*.json` with a chat model that keys each
call (SPEC §4) and raises on a miss; its title middleware and its follow-up suggestions fall
back to local text when their model call fails. The suite below sends the conversations that
produced the fixtures' keys: the user prompt (a human message named `user-input`), the recorded
AI outputs and the tool results; the system prompt is not in the key. The title and suggestion
prompts are not in the fixtures, so those calls miss, as they would after a prompt change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.capture.project import PYPROJECT, make_project
from tests.conftest import COMPAT, REPO

FIXTURES = ("write_read_file.ultra.json", "subagent_file_task.ultra.json")

CALLERS = """
"suggest_agent" = "suggest_agent"
"subagent:general-purpose" = "subagent:general-purpose"
"""

MODELS = """\
import json
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import messages_from_dict, messages_to_dict
from langchain_core.outputs import ChatGeneration, ChatResult

import replaykeys

CALLERS = ("middleware:title", "suggest_agent", "subagent:general-purpose")


class ReplayMiss(AssertionError):
    pass


class ReplayChatModel(BaseChatModel):
    fixture: str
    queues: dict = {}

    def model_post_init(self, context):
        self.queues = {}
        for turn in json.loads(Path(self.fixture).read_text(encoding="utf-8"))["turns"]:
            self.queues.setdefault(turn["input_hash"], []).append(turn["output"])

    @property
    def _llm_type(self):
        return "replay"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        tags = run_manager.tags if run_manager is not None else []
        caller = next((tag for tag in tags if tag in CALLERS), "lead_agent")
        conversation, key = replaykeys.keys(caller, messages_to_dict(messages))
        queue = self.queues.get(key) or self.queues.get(conversation)
        if not queue:
            raise ReplayMiss(f"replay miss for {caller}: key {key}")
        return ChatResult(generations=[ChatGeneration(message=messages_from_dict([queue.pop(0)])[0])])
"""

AGENT = '''\
"""A lead agent with file tools, a task tool running a subagent, a title middleware and suggestions."""

from typing import Annotated, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from models import ReplayMiss

SYSTEM = "You are DeerFlow, a deep research agent. Today is 2026-12-06."
SUBAGENT_SYSTEM = "You are a general-purpose subagent. Do the task and return its result."
TITLE_PROMPT = "Generate a concise title (at most 6 words) for this conversation.\\nUser: {question}"
SUGGEST_PROMPT = "Suggest three follow-up questions the user may ask next, as a JSON list.\\nUser: {question}"
FILES = {}


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    title: str


def run_tool(call, model):
    if call["name"] == "write_file":
        FILES[call["args"]["path"]] = call["args"]["content"]
        return "OK"
    if call["name"] == "read_file":
        return FILES.get(call["args"]["path"], "")
    if call["name"] == "task":
        return f"Task Succeeded. Result: {subagent(model, call['args']['prompt'])}"
    raise ValueError(call["name"])


def subagent(model, prompt):
    config = {"tags": ["subagent:general-purpose"]}
    messages = [SystemMessage(SUBAGENT_SYSTEM), HumanMessage(prompt, name="user-input")]
    while True:
        reply = model.invoke(messages, config=config)
        messages.append(reply)
        if not reply.tool_calls:
            return reply.content
        for call in reply.tool_calls:
            messages.append(ToolMessage(run_tool(call, model), name=call["name"], tool_call_id=call["id"]))


def build(model):
    def lead(state):
        return {"messages": [model.invoke([SystemMessage(SYSTEM), *state["messages"]])]}

    def title(state):
        if state["title"]:
            return {}
        question = state["messages"][0].content
        config = {"tags": ["middleware:title"], "run_name": "title_agent"}
        try:  # like deer-flow's title middleware: a failed model call falls back to local text
            reply = model.invoke([HumanMessage(TITLE_PROMPT.format(question=question))], config=config)
            return {"title": reply.content}
        except ReplayMiss:
            return {"title": question[:40]}

    def tools(state):
        calls = state["messages"][-1].tool_calls
        return {"messages": [ToolMessage(run_tool(c, model), name=c["name"], tool_call_id=c["id"]) for c in calls]}

    def after_title(state):
        return "tools" if state["messages"][-1].tool_calls else END

    graph = StateGraph(State)
    graph.add_node("lead", lead)
    graph.add_node("title", title)
    graph.add_node("tools", tools)
    graph.add_edge(START, "lead")
    graph.add_edge("lead", "title")
    graph.add_conditional_edges("title", after_title)
    graph.add_edge("tools", "lead")
    return graph.compile()


def suggest(model, question):
    try:  # deer-flow's suggestions are best effort too
        prompt = SUGGEST_PROMPT.format(question=question)
        reply = model.invoke([HumanMessage(prompt)], config={"tags": ["suggest_agent"]})
        return reply.content
    except ReplayMiss:
        return "[]"


def run(model, prompt):
    state = build(model).invoke({"messages": [HumanMessage(prompt, name="user-input")], "title": ""})
    return state, suggest(model, prompt)
'''

TESTS = """\
import json
from pathlib import Path

import pytest

from agent import run
from models import ReplayChatModel

REPLAY = Path(__file__).parent / "fixtures" / "replay"


@pytest.mark.parametrize("name", ["write_read_file.ultra", "subagent_file_task.ultra"])
def test_replay_scenario(name):
    fixture = REPLAY / f"{name}.json"
    document = json.loads(fixture.read_text(encoding="utf-8"))
    state, _suggestions = run(ReplayChatModel(fixture=str(fixture)), document["prompt"])
    last = document["turns"][-1 if "subagent" in name else 3]
    assert state["messages"][-1].content == last["output"]["data"]["content"]
"""


def make_deerflow_project(root: Path) -> Path:
    make_project(root)
    for name in ("agent.py", "models.py", "tests/test_agent.py", "tests/conftest.py"):
        (root / name).unlink()
    (root / "pyproject.toml").write_text(PYPROJECT + CALLERS, encoding="utf-8")
    (root / "models.py").write_text(MODELS, encoding="utf-8")
    (root / "agent.py").write_text(AGENT, encoding="utf-8")
    (root / "tests" / "test_replay.py").write_text(TESTS, encoding="utf-8")
    for name in FIXTURES:
        shutil.copyfile(COMPAT / name, root / "tests" / "fixtures" / "replay" / name)
    assert (root / "replaykeys.py").read_text(encoding="utf-8") == (REPO / "bench" / "reference.py").read_text("utf-8")
    return root
