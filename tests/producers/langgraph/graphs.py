"""Real LangGraph graphs run offline into a checkpointer, with the ground truth logged beside them.

A scripted chat model answers from a list, real `@tool` functions run, and a
callback handler (outside the checkpointer) logs what each model call really
received and returned, from which node and namespace, and what each tool
was called with and returned. The readers are then compared with that log.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, messages_to_dict
from langchain_core.outputs import ChatGeneration, ChatResult, LLMResult
from langchain_core.tools import tool
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, create_react_agent
from langgraph.types import Command, Send, interrupt
from typing_extensions import TypedDict

SYSTEM_PROMPT = "You are a terse travel assistant. Answer in one sentence."
MODEL_NAME = "scripted-chat-1"


class ScriptedChatModel(BaseChatModel):
    """Answers with the next message of its script, as a real provider would (ids, usage, model name)."""

    script: list[AIMessage]
    position: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        answer = self.script[self.position]
        self.position += 1
        return ChatResult(generations=[ChatGeneration(message=answer.model_copy(deep=True))])


def reply(
    content: str, calls: Sequence[tuple[str, dict[str, Any]]] = (), tokens: tuple[int, int] = (50, 10)
) -> AIMessage:
    """A scripted answer; tool call ids are unique per answer."""
    reply.counter += 1  # type: ignore[attr-defined]
    number = reply.counter  # type: ignore[attr-defined]
    return AIMessage(
        content=content,
        tool_calls=[
            {"name": name, "args": args, "id": f"call_{number}_{index}", "type": "tool_call"}
            for index, (name, args) in enumerate(calls)
        ],
        usage_metadata={"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)},
        response_metadata={"model_name": MODEL_NAME, "finish_reason": "tool_calls" if calls else "stop"},
    )


reply.counter = 0  # type: ignore[attr-defined]


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return {"Zürich": "4°C, Schneeregen ❄", "東京": "12°C, 晴れ", "Oslo": "-3°C, clear"}.get(city, f"15°C in {city}")


@tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return f"10:42 in {city}"


@tool
def divide(a: int, b: int) -> float:
    """a divided by b."""
    return a / b


@tool
def count_step(n: int) -> str:
    """Counts one step."""
    return f"step {n} done"


class Truth(BaseCallbackHandler):
    """Logs every model and tool call as LangChain reports it, keyed by thread."""

    def __init__(self) -> None:
        self.calls: dict[str, list[dict[str, Any]]] = {}
        self._open: dict[UUID, dict[str, Any]] = {}

    def _start(self, run_id: UUID, metadata: dict[str, Any] | None, entry: dict[str, Any]) -> None:
        metadata = metadata or {}
        task_ns = str(metadata.get("langgraph_checkpoint_ns") or "")
        entry.update(node=metadata.get("langgraph_node"), namespace="|".join(task_ns.split("|")[:-1]))
        self.calls.setdefault(str(metadata.get("thread_id")), []).append(entry)
        self._open[run_id] = entry

    def on_chat_model_start(
        self, serialized: Any, messages: list[list[BaseMessage]], *, run_id: UUID, metadata: Any = None, **kw: Any
    ) -> None:
        self._start(run_id, metadata, {"kind": "model", "input": messages_to_dict(messages[0])})

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kw: Any) -> None:
        generation = response.generations[0][0]
        self._open.pop(run_id)["output"] = messages_to_dict([generation.message])[0]  # type: ignore[attr-defined]

    def on_tool_start(
        self, serialized: Any, input_str: str, *, run_id: UUID, metadata: Any = None, inputs: Any = None, **kw: Any
    ) -> None:
        entry = {"kind": "tool", "name": serialized.get("name"), "args": inputs, "call_id": kw.get("tool_call_id")}
        self._start(run_id, metadata, entry)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kw: Any) -> None:
        entry = self._open.pop(run_id)
        entry.update(result=output.content, status=output.status)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kw: Any) -> None:
        self._open.pop(run_id).update(error=repr(error), status="error")


# -- graphs --------------------------------------------------------------------------------
class Notes(TypedDict):
    history: Annotated[list[AnyMessage], add_messages]


def _delta_messages(state: list[AnyMessage], writes: Sequence[Any]) -> list[AnyMessage]:
    result: Any = state
    for write in writes:
        result = add_messages(result, write)
    return list(result)


class DeltaState(TypedDict):
    messages: Annotated[list[AnyMessage], DeltaChannel(_delta_messages, snapshot_frequency=3)]


class Plain(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class Review(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    approved: Annotated[list[str], operator.add]


def _model_node(model: BaseChatModel, key: str = "messages") -> Any:
    def call(state: Any) -> dict[str, Any]:
        return {key: [model.invoke(state[key])]}

    return call


def react_agent(model: BaseChatModel, saver: BaseCheckpointSaver[Any]) -> Any:
    tools = ToolNode([get_weather, get_time, divide, count_step], handle_tool_errors=True)
    return create_react_agent(model, tools, prompt=SYSTEM_PROMPT, checkpointer=saver)


def research_graph(model: BaseChatModel, saver: BaseCheckpointSaver[Any]) -> Any:
    """plan -> research (subgraph: search -> fact_check (subgraph: verify)) -> write."""
    fact_check = StateGraph(Plain)
    fact_check.add_node("verify", _model_node(model))
    fact_check.add_edge(START, "verify")
    research = StateGraph(Plain)
    research.add_node("search", _model_node(model))
    research.add_node("fact_check", fact_check.compile())
    research.add_edge(START, "search")
    research.add_edge("search", "fact_check")
    parent = StateGraph(Plain)
    parent.add_node("plan", _model_node(model))
    parent.add_node("research", research.compile())
    parent.add_node("write", _model_node(model))
    parent.add_edge(START, "plan")
    parent.add_edge("plan", "research")
    parent.add_edge("research", "write")
    parent.add_edge("write", END)
    return parent.compile(checkpointer=saver)


def review_graph(model: BaseChatModel, saver: BaseCheckpointSaver[Any]) -> Any:
    """draft -> review (interrupt: a human approves) -> publish."""

    def review(state: Review) -> dict[str, Any]:
        answer = interrupt({"question": "Publish this draft?", "draft": state["messages"][-1].content})
        return {"approved": [str(answer)]}

    graph = StateGraph(Review)
    graph.add_node("draft", _model_node(model))
    graph.add_node("review", review)
    graph.add_node("publish", _model_node(model))
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", "publish")
    graph.add_edge("publish", END)
    return graph.compile(checkpointer=saver)


def notes_graph(model: BaseChatModel, saver: BaseCheckpointSaver[Any]) -> Any:
    """Messages under the state key `history`, a tool loop over it."""

    def route(state: Notes) -> str:
        last = state["history"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(Notes)
    graph.add_node("assistant", _model_node(model, "history"))
    graph.add_node("tools", ToolNode([get_weather, divide], messages_key="history"))
    graph.add_edge(START, "assistant")
    graph.add_conditional_edges("assistant", route, ["tools", END])
    graph.add_edge("tools", "assistant")
    return graph.compile(checkpointer=saver)


def delta_graph(model: BaseChatModel, saver: BaseCheckpointSaver[Any]) -> Any:
    graph = StateGraph(DeltaState)
    graph.add_node("chat", _model_node(model))
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    return graph.compile(checkpointer=saver)


def fanout_graph(model: BaseChatModel, saver: BaseCheckpointSaver[Any]) -> Any:
    """Two model nodes in parallel (both read the same state), then a judge that reads both answers."""
    graph = StateGraph(Plain)
    for name in ("optimist", "pessimist"):
        graph.add_node(name, _model_node(model))
        graph.add_edge(START, name)
        graph.add_edge(name, "judge")
    graph.add_node("judge", _model_node(model))
    return graph.compile(checkpointer=saver)


def mapreduce_graph(model: BaseChatModel, saver: BaseCheckpointSaver[Any]) -> Any:
    """A `Send` per topic to a model node whose input is the `Send`'s own messages, then a summary."""

    def dispatch(state: Plain) -> list[Send]:
        topics = str(state["messages"][-1].content).split(", ")
        return [Send("summarize", {"messages": [HumanMessage(f"One line on {topic}.")]}) for topic in topics]

    graph = StateGraph(Plain)
    graph.add_node("summarize", _model_node(model))
    graph.add_node("combine", _model_node(model))
    graph.add_conditional_edges(START, dispatch, ["summarize"])
    graph.add_edge("summarize", "combine")
    return graph.compile(checkpointer=saver)


# -- the scenarios -------------------------------------------------------------------------
def _config(thread: str, truth: Truth, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, "callbacks": [truth], **extra}


def generate(saver: BaseCheckpointSaver[Any]) -> dict[str, list[dict[str, Any]]]:
    """Runs every scenario into `saver`; returns the ground truth, `{thread_id: [call, ...]}` in call order."""
    truth = Truth()
    reply.counter = 0  # type: ignore[attr-defined]

    # A prebuilt ReAct agent with a system prompt: parallel tool calls, then a second user turn.
    model = ScriptedChatModel(
        script=[
            reply(
                "",
                [
                    ("get_weather", {"city": "Zürich"}),
                    ("get_weather", {"city": "東京"}),
                    ("get_time", {"city": "東京"}),
                ],
            ),
            reply("Zürich: 4°C Schneeregen ❄; 東京: 12°C 晴れ, 10:42.", tokens=(120, 24)),
            reply("", [("divide", {"a": 1, "b": 0})]),
            reply("Division by zero is undefined.", tokens=(160, 8)),
        ]
    )
    agent = react_agent(model, saver)
    agent.invoke(
        {"messages": [HumanMessage("Wetter in Zürich und 東京? And the time in 東京.")]}, _config("react-1", truth)
    )
    agent.invoke({"messages": [HumanMessage("What is 1/0?")]}, _config("react-1", truth))

    # A thread id containing `|`.
    model = ScriptedChatModel(script=[reply("", [("get_time", {"city": "Oslo"})]), reply("It is 10:42 in Oslo.")])
    react_agent(model, saver).invoke({"messages": [HumanMessage("Time in Oslo?")]}, _config("team|alpha", truth))

    # A subgraph with a nested subgraph.
    model = ScriptedChatModel(
        script=[
            reply("Plan: search, verify, write."),
            reply("Found: Oslo is cold."),
            reply("Verified."),
            reply("Oslo is cold."),
        ]
    )
    research_graph(model, saver).invoke(
        {"messages": [HumanMessage("Research Oslo's weather.")]}, _config("research-1", truth)
    )

    # An interrupt resumed, and one never resumed.
    model = ScriptedChatModel(script=[reply("Draft: Oslo is cold."), reply("Published: Oslo is cold.")])
    graph = review_graph(model, saver)
    graph.invoke({"messages": [HumanMessage("Write a post about Oslo.")]}, _config("review-1", truth))
    graph.invoke(Command(resume="yes"), _config("review-1", truth))
    model = ScriptedChatModel(script=[reply("Draft: 東京 is mild.")])
    review_graph(model, saver).invoke({"messages": [HumanMessage("Write about 東京.")]}, _config("review-2", truth))

    # A human edit and an injected AI message (update_state), then the conversation goes on.
    model = ScriptedChatModel(script=[reply("Oslo: -3°C."), reply("Bergen is wet, as noted.")])
    agent = react_agent(model, saver)
    config = _config("edit-1", truth)
    agent.invoke({"messages": [HumanMessage("Weather in Olso?", id="human-1")]}, config)
    agent.update_state(config, {"messages": [HumanMessage("Weather in Oslo?", id="human-1")]})
    agent.update_state(config, {"messages": [AIMessage("Note: Bergen is wet.", id="injected-1")]}, as_node="agent")
    agent.invoke({"messages": [HumanMessage("And Bergen?")]}, config)

    # Messages under a custom state key.
    model = ScriptedChatModel(script=[reply("", [("divide", {"a": 7, "b": 2})]), reply("7/2 = 3.5")])
    notes_graph(model, saver).invoke({"history": [HumanMessage("7/2?")]}, _config("notes-1", truth))

    # durability="exit": only the last checkpoint is written.
    model = ScriptedChatModel(script=[reply("", [("get_weather", {"city": "Oslo"})]), reply("-3°C in Oslo.")])
    react_agent(model, saver).invoke(
        {"messages": [HumanMessage("Oslo weather, briefly.")]}, _config("exit-1", truth), durability="exit"
    )

    # Messages in a DeltaChannel: in the writes only, with a full snapshot every third update.
    model = ScriptedChatModel(script=[reply("Hello!"), reply("Still here."), reply("Yes."), reply("Bye.")])
    graph = delta_graph(model, saver)
    for text in ("Hi", "Still there?", "Sure?", "Bye then."):
        graph.invoke({"messages": [HumanMessage(text)]}, _config("delta-1", truth))

    # Parallel model nodes (a superstep of two calls), then one reading both.
    model = ScriptedChatModel(script=[reply("Sunny soon."), reply("Rain soon."), reply("Bring both.")])
    fanout_graph(model, saver).invoke(
        {"messages": [HumanMessage("Will it rain in Bergen?")]}, _config("fanout-1", truth)
    )

    # Send: a model node per topic, reading the Send's payload, not the state.
    model = ScriptedChatModel(script=[reply("Oslo: cold."), reply("Bergen: wet."), reply("Norway: cold and wet.")])
    mapreduce_graph(model, saver).invoke({"messages": [HumanMessage("Oslo, Bergen")]}, _config("mapreduce-1", truth))

    # A 50-call thread.
    script = [reply("", [("count_step", {"n": n})]) for n in range(49)] + [reply("Counted 49 steps.")]
    react_agent(ScriptedChatModel(script=script), saver).invoke(
        {"messages": [HumanMessage("Count 49 steps, one tool call at a time.")]},
        _config("long-1", truth, recursion_limit=200),
    )
    return truth.calls
