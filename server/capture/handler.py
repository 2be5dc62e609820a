"""The LangChain side of the capture: a callback handler attached through a configure hook.

LangChain's own tracers attach this way: `register_configure_hook` with a ContextVar makes
every callback manager LangChain configures (every chat-model run, inside a LangGraph graph
or not) include the handler while the variable holds it. The user's model classes are not
touched. Imported only when the plugin is on, so a project without LangChain never imports it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, messages_to_dict
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers.context import register_configure_hook

from server.capture.calls import CallLog

_ACTIVE: ContextVar[CaptureHandler | None] = ContextVar("replay_lens_capture", default=None)
_registered = False


class CaptureHandler(BaseCallbackHandler):
    """Feeds a `CallLog`; it never raises into the run it observes."""

    run_inline = True  # called in order, in the caller's thread: a call's start precedes its end
    raise_error = False

    def __init__(self, log: CallLog) -> None:
        self.log = log

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: Any,
        parent_run_id: Any = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        del parent_run_id
        try:
            metadata = metadata or {}
            for batch in messages:
                self.log.start(
                    run_id,
                    messages_to_dict(batch),
                    tags=tags or (),
                    node=metadata.get("langgraph_node"),
                    name=kwargs.get("name") or (serialized or {}).get("name"),
                    model=_model_name(serialized, metadata, kwargs.get("invocation_params")),
                )
        except Exception as exc:  # a callback must never change the test's outcome
            self.log.problem(f"a chat-model call could not be captured: {type(exc).__name__}: {exc}")

    def on_llm_end(self, response: LLMResult, *, run_id: Any, **kwargs: Any) -> None:
        del kwargs
        try:
            generation = response.generations[0][0] if response.generations and response.generations[0] else None
            if isinstance(generation, ChatGeneration):
                self.log.finish(run_id, output=messages_to_dict([generation.message])[0])
            else:
                self.log.finish(run_id, error="the model returned no chat message")
        except Exception as exc:
            self.log.finish(run_id, error=f"its output could not be captured: {type(exc).__name__}: {exc}")

    def on_llm_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
        del kwargs
        self.log.finish(run_id, error=f"{type(error).__name__}: {error}")


def _model_name(serialized: dict[str, Any] | None, metadata: dict[str, Any], params: Any) -> str | None:
    """The model's name as LangChain reports it (`ls_model_name`, the invocation's `model`), else its class."""
    params = params if isinstance(params, dict) else {}
    for value in (metadata.get("ls_model_name"), params.get("model"), params.get("model_name")):
        if isinstance(value, str) and value:
            return value
    ids = (serialized or {}).get("id")
    return str(ids[-1]) if isinstance(ids, list) and ids else None


def attach(log: CallLog) -> None:
    """From now on, every chat-model run in this process (and the threads and tasks it starts) feeds `log`."""
    global _registered  # noqa: PLW0603 - LangChain keeps its hooks in a module-level list: register once
    if not _registered:
        register_configure_hook(_ACTIVE, inheritable=True)
        _registered = True
    _ACTIVE.set(CaptureHandler(log))


def detach() -> None:
    _ACTIVE.set(None)
