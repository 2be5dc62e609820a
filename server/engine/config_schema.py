"""What a user may write in a config file, validated by pydantic into the rules' dataclasses.

`server.engine.config` imports this module only when it reads a config file, so
processes that never do (a child summarizing part of a recording) never pay
for importing pydantic.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from server.engine.presets import DEFAULT_PRESET
from server.engine.rules import VALIDATION, KeyScheme, Projection, Substitution


class CaptureSchema(BaseModel):
    """`[capture]`: how the pytest plugin names callers and where `--replay-lens=record` writes fixtures."""

    model_config = ConfigDict(frozen=True, **VALIDATION)  # type: ignore[typeddict-item]

    callers: dict[str, str] = Field(default_factory=dict)
    default_caller: str = ""
    fixtures_dir: str = "tests/fixtures/replay"


class UserConfig(BaseModel):
    """The keys a user may write (kebab-case in TOML)."""

    model_config = ConfigDict(frozen=True, **VALIDATION)  # type: ignore[typeddict-item]

    preset: str = DEFAULT_PRESET
    rules: tuple[Substitution, ...] = ()
    replace_rules: bool = False
    projection: dict[str, Any] = Field(default_factory=dict)
    key: dict[str, Any] = Field(default_factory=dict)
    fixtures: tuple[str, ...] = ()
    recordings: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    allow_volatile: tuple[str, ...] = ()
    capture: CaptureSchema = Field(default_factory=CaptureSchema)


class SchemaError(ValueError):
    """The first thing wrong in a config: where (a path of keys and list positions) and what."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


Part = TypeVar("Part", Projection, KeyScheme)

_PARTS: dict[type, TypeAdapter[Any]] = {Projection: TypeAdapter(Projection), KeyScheme: TypeAdapter(KeyScheme)}


def user_config(section: dict[str, Any]) -> UserConfig:
    """The config file's table, validated; raises `SchemaError`."""
    try:
        return UserConfig.model_validate(section)
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
    return SchemaError((*within, *error["loc"]), message)
