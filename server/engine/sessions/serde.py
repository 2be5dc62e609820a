"""Decode LangGraph checkpoint blobs as plain data, never as objects.

LangGraph's `JsonPlusSerializer` writes msgpack whose extension types name a
Python class to rebuild: `(module, class, data[, method])` under codes 0-5.
Rebuilding would import and call whatever a file names, so this decoder never
does: a LangChain message (code 5 or 4, a `langchain_core.messages` class)
becomes its `messages_to_dict` entry, anything else a `{"$type", "$value"}`
record, a `DeltaChannel` snapshot (code 7) `{"$delta_snapshot": value}`, and
unknown codes an opaque marker. `pickle` and encrypted (`*+aes`)
blobs are not decoded at all.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs published

EXT_CONSTRUCTOR_SINGLE_ARG = 0
EXT_CONSTRUCTOR_POS_ARGS = 1
EXT_CONSTRUCTOR_KW_ARGS = 2
EXT_METHOD_SINGLE_ARG = 3
EXT_PYDANTIC_V1 = 4
EXT_PYDANTIC_V2 = 5
EXT_DELTA_SNAPSHOT = 7
"""A `DeltaChannel` snapshot (langgraph-checkpoint 4.x): the packed value itself, no class to name."""
_KNOWN_EXT = range(EXT_CONSTRUCTOR_SINGLE_ARG, EXT_PYDANTIC_V2 + 1)
DELTA_SNAPSHOT = "$delta_snapshot"
_MESSAGE_MODULE = "langchain_core.messages"
_MAX_DEPTH = 200


class OpaqueBlobError(Exception):
    """A blob that is never decoded (pickled or encrypted), with the reason."""


class UndecodableError(ValueError):
    """A blob that should decode but does not (corrupt data)."""


def is_opaque_type(kind: str) -> str | None:
    """Why a serialization type is never decoded, or None when it is plain data."""
    lowered = kind.lower()
    if lowered == "pickle" or lowered.startswith("pickle"):
        return "pickled data: never unpickled (unpickling runs code named by the file)"
    if "+" in lowered or "aes" in lowered or "encrypt" in lowered:
        return f"encrypted data ({kind}): never decrypted"
    return None


def decode(kind: str | None, blob: Any) -> Any:
    """The value of a `(type, blob)` pair as JSON-safe data (raises `OpaqueBlobError` or `UndecodableError`)."""
    if kind is None or kind in ("null", "empty"):
        return None
    reason = is_opaque_type(kind)
    if reason is not None:
        raise OpaqueBlobError(reason)
    data = bytes(blob) if isinstance(blob, bytes | bytearray | memoryview) else str(blob or "").encode()
    if kind == "msgpack":
        return jsonable(_unpack(data, 0))
    if kind == "json":
        try:
            return _revive(json.loads(data), 0)
        except (ValueError, RecursionError) as exc:
            raise UndecodableError(f"invalid JSON: {exc}") from None
    if kind in ("bytes", "bytearray"):
        return {"$bytes": len(data)}
    raise OpaqueBlobError(f"unknown serialization type {kind!r}: not decoded")


def _unpack(data: bytes, depth: int) -> Any:
    """msgpack as Python values (made JSON-safe once, by the caller of the outermost one)."""
    if depth > _MAX_DEPTH:
        raise UndecodableError("msgpack nested too deeply")
    try:
        value = msgpack.unpackb(
            data,
            ext_hook=lambda code, payload: _ext(code, payload, depth + 1),
            strict_map_key=False,
            raw=False,
            timestamp=3,
        )
    except UndecodableError:
        raise
    except (ValueError, TypeError, RecursionError, msgpack.UnpackException) as exc:
        raise UndecodableError(f"invalid msgpack: {exc}") from None
    return value


def _ext(code: int, payload: bytes, depth: int) -> Any:
    """An extension value as data. Class names are read as text; nothing is imported or called."""
    if code == EXT_DELTA_SNAPSHOT:
        return {DELTA_SNAPSHOT: _unpack(payload, depth)}
    if code not in _KNOWN_EXT:
        return {"$ext": code, "$bytes": len(payload)}
    parts = _unpack(payload, depth)
    if not isinstance(parts, list) or len(parts) < 3:
        return {"$ext": code, "$value": parts}
    module, name, value = str(parts[0]), str(parts[1]), parts[2]
    if code in (EXT_PYDANTIC_V1, EXT_PYDANTIC_V2) and module.startswith(_MESSAGE_MODULE) and isinstance(value, dict):
        return _message(name, value)
    return {"$type": f"{module}.{name}", "$value": value}


def _message(name: str, data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("type")
    if not isinstance(kind, str):
        kind = name.removesuffix("MessageChunk").removesuffix("Message").lower() or "unknown"
        kind = {"human": "human", "ai": "ai", "system": "system", "tool": "tool"}.get(kind, kind)
    return {"type": kind, "data": data}


def _revive(value: Any, depth: int) -> Any:
    """LangChain's JSON constructor records (`{"lc": 1|2, "type": "constructor", ...}`) as data."""
    if depth > _MAX_DEPTH:
        raise UndecodableError("JSON nested too deeply")
    if isinstance(value, list):
        return [_revive(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    revived = {key: _revive(item, depth + 1) for key, item in value.items()}
    ident = revived.get("id")
    if revived.get("type") == "constructor" and revived.get("lc") in (1, 2) and isinstance(ident, list) and ident:
        name = str(ident[-1])
        kwargs = revived.get("kwargs")
        if name.endswith(("Message", "MessageChunk")) and isinstance(kwargs, dict):
            return _message(name, kwargs)
        return {"$type": ".".join(map(str, ident)), "$value": kwargs if kwargs is not None else revived.get("args")}
    return revived


def jsonable(value: Any, depth: int = 0) -> Any:
    """Tuples as lists, bytes as base64, non-string keys as strings: what JSON can carry.

    Values nested deeper than `_MAX_DEPTH` are replaced by a marker, so a hostile
    checkpoint cannot exhaust the stack here or in whatever walks the result next.
    """
    if depth > _MAX_DEPTH and isinstance(value, dict | list | tuple):
        return {"$cut": f"nested more than {_MAX_DEPTH} levels deep"}
    if isinstance(value, dict):
        return {key if isinstance(key, str) else str(key): jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return {"$base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
