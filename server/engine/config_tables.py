"""The keys a config file may hold, as dataclasses, and `exact`: their validation without pydantic.

Almost every config table already holds exactly the types its fields declare, and
importing pydantic and building its validators costs `check` ~80 ms of a ~0.5 s run.
`exact` builds such tables straight from the dataclasses' own field types and declines
everything else, which `server.engine.config_schema` (pydantic, the validator of
record) then validates and words the error for. Both read the same dataclasses.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from server.engine.presets import DEFAULT_PRESET
from server.engine.rules import VALIDATION, Substitution


@dataclass(frozen=True, kw_only=True)
class CaptureSchema:
    """`[capture]`: how the pytest plugin names callers and where `--replay-lens=record` writes fixtures."""

    __pydantic_config__ = VALIDATION

    callers: dict[str, str] = field(default_factory=dict)
    default_caller: str = ""
    fixtures_dir: str = "tests/fixtures/replay"


@dataclass(frozen=True, kw_only=True)
class UserConfig:
    """The keys a user may write (kebab-case in TOML)."""

    __pydantic_config__ = VALIDATION

    preset: str = DEFAULT_PRESET
    rules: tuple[Substitution, ...] = ()
    replace_rules: bool = False
    projection: dict[str, Any] = field(default_factory=dict)
    key: dict[str, Any] = field(default_factory=dict)
    fixtures: tuple[str, ...] = ()
    recordings: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    allow_volatile: tuple[str, ...] = ()
    capture: CaptureSchema = field(default_factory=CaptureSchema)


class SchemaError(ValueError):
    """The first thing wrong in a config: where (a path of keys and list positions) and what."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


Table = TypeVar("Table")

_DECLINE: Any = object()
"""What a converter returns for a value it does not take as is: pydantic will decide."""

_Convert = Callable[[object], Any]


def exact(cls: type[Table], table: object) -> Table | None:
    """`table` as a `cls` when every value has exactly its field's type, as pydantic would build it; else None."""
    value = _converter(cast(Any, cls))(table)
    return None if value is _DECLINE else cast(Table, value)


def exact_override(base: Table, override: dict[str, Any]) -> Table | None:
    """`exact` of what `config_schema.overridden` validates: `base`'s fields by alias, then `override`'s keys."""
    alias = _alias_of(type(base))
    fields = {alias(name): value for name, value in dataclasses.asdict(cast(Any, base)).items()}
    return exact(type(base), {**fields, **override})


def _alias_of(cls: type) -> Callable[[str], str]:
    if getattr(cls, "__pydantic_config__", None) is not VALIDATION:
        raise TypeError(f"{cls.__name__}: exact validation follows rules.VALIDATION only")
    return cast(Callable[[str], str], VALIDATION["alias_generator"])


@functools.cache
def _converter(hint: Any) -> _Convert:
    """A function taking a value of exactly type `hint` to what pydantic makes of it, else to `_DECLINE`.

    A kind of type without a rule here raises `TypeError`: a new field fails the tests rather than being guessed.
    """
    if hint is Any:
        return lambda value: value
    if hint in (str, bool):
        return lambda value: value if type(value) is hint else _DECLINE
    if dataclasses.is_dataclass(hint):
        return _dataclass_converter(cast(type, hint))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return lambda value: value if any(type(value) is type(m) and value == m for m in args) else _DECLINE
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return functools.partial(_tuple_of, _converter(args[0]))
    if origin is dict and args[0] is str:
        return functools.partial(_dict_of, _converter(args[1]))
    raise TypeError(f"no exact validation for {hint!r}")


def _tuple_of(item: _Convert, value: object) -> Any:
    if type(value) is not list and type(value) is not tuple:
        return _DECLINE
    items = tuple(map(item, value))
    return _DECLINE if any(entry is _DECLINE for entry in items) else items


def _dict_of(item: _Convert, value: object) -> Any:
    if type(value) is not dict:
        return _DECLINE
    entries = {key: item(entry) for key, entry in value.items()}
    if any(type(key) is not str or entry is _DECLINE for key, entry in entries.items()):
        return _DECLINE
    return entries


def _dataclass_converter(cls: type) -> _Convert:
    alias = _alias_of(cls)
    hints = typing.get_type_hints(cls)
    spec = [
        (item.name, alias(item.name), _converter(hints[item.name]), item)
        for item in dataclasses.fields(cls)
        if item.init
    ]
    known = {spelling for name, kebab, _, _ in spec for spelling in (name, kebab)}

    def build(table: object) -> Any:
        # pydantic refuses an unknown key (`extra="forbid"`) and a key given both by its name and its alias.
        if type(table) is not dict or not table.keys() <= known:
            return _DECLINE
        values = {}
        for name, kebab, convert, item in spec:
            if kebab in table:
                if name != kebab and name in table:
                    return _DECLINE
                given = table[kebab]
            elif name in table:
                given = table[name]
            elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                return _DECLINE
            else:
                continue
            value = convert(given)
            if value is _DECLINE:
                return _DECLINE
            values[name] = value
        return cls(**values)

    return build
