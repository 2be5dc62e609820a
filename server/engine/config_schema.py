"""The validator of record for config files: pydantic over `config_tables`' dataclasses.

There are two paths because pydantic costs `check` ~80 ms to import and build, while
almost every config already holds exactly its declared types: `config_tables.exact`
takes those without pydantic, and everything it declines comes here. This module is
the reference: it decides every table `exact` does not take and words every error, and
`exact` gives the same result as this module for every table it takes (property-tested).
`server.engine.config` imports it only for such a table, so a plain project's `check`
and a child summarizing a recording never import pydantic.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from server.engine.config_tables import CaptureSchema, SchemaError, UserConfig
from server.engine.rules import KeyScheme, Projection

Part = TypeVar("Part", Projection, KeyScheme)

_USER = TypeAdapter(UserConfig)
_PARTS: dict[type, TypeAdapter[Any]] = {Projection: TypeAdapter(Projection), KeyScheme: TypeAdapter(KeyScheme)}


def user_config(section: dict[str, Any]) -> UserConfig:
    """The config file's table, validated; raises `SchemaError`."""
    try:
        return _USER.validate_python(section)
    except ValidationError as exc:
        raise _schema_error(exc) from None


def overridden(name: str, base: Part, override: dict[str, Any]) -> Part:
    """`base` (the preset's table `name`) with the user's `override` keys; raises `SchemaError` at a wrong key."""
    adapter = _PARTS[type(base)]
    data = {**adapter.dump_python(base, by_alias=True), **override}
    try:
        part: Part = adapter.validate_python(data)
    except ValidationError as exc:
        raise _schema_error(exc, name) from None
    return part


def _schema_error(exc: ValidationError, *within: str) -> SchemaError:
    error = exc.errors()[0]
    message = str(error["msg"])
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        message = "unknown key"
    elif error["type"] == "dataclass_type" and error["ctx"]["class_name"] == CaptureSchema.__name__:
        # `[capture]` was a pydantic model before it became a dataclass: its message stays the model's.
        message = f"Input should be a valid dictionary or instance of {CaptureSchema.__name__}"
    return SchemaError((*within, *error["loc"]), message)
