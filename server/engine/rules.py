"""Normalization rules as data: substitutions, projection options and the key scheme.

A rule set is plain data so it can be written in TOML, compared, fingerprinted and
shown to the user; `server.engine.normalize` turns it into a working normalizer.
These are plain dataclasses, not pydantic models: a child process summarizing part
of a recording imports them, and pydantic alone would double its start-up time.
`server.engine.config_tables` (exact types) and `config_schema` (pydantic) validate what a user writes into them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal


def _kebab(name: str) -> str:
    return name.replace("_", "-")


VALIDATION = {"extra": "forbid", "alias_generator": _kebab, "populate_by_name": True}
"""How pydantic validates these dataclasses (read from `__pydantic_config__`): kebab-case keys, no unknown ones."""

RegexFlag = Literal["dotall", "multiline", "ignorecase", "ascii"]

_FLAG_BITS: dict[str, re.RegexFlag] = {
    "dotall": re.DOTALL,
    "multiline": re.MULTILINE,
    "ignorecase": re.IGNORECASE,
    "ascii": re.ASCII,
}


@dataclass(frozen=True, kw_only=True)
class Substitution:
    """One regex substitution, applied with Python's `re.sub` semantics."""

    __pydantic_config__ = VALIDATION

    name: str = ""
    """Short name shown in hovers and findings."""
    pattern: str
    replacement: str = ""
    flags: tuple[RegexFlag, ...] = ()

    def compile(self) -> re.Pattern[str]:
        bits = re.RegexFlag(0)
        for flag in self.flags:
            bits |= _FLAG_BITS[flag]
        return re.compile(self.pattern, bits)


@dataclass(frozen=True, kw_only=True)
class Projection:
    """How an input message list is projected before it is dumped and hashed."""

    __pydantic_config__ = VALIDATION

    skip_types: tuple[str, ...] = ("system",)
    skip_hidden: bool = True
    """Skip messages whose additional_kwargs.hide_from_ui is truthy."""
    drop_empty: bool = True
    """Skip messages empty after normalization and without tool calls."""
    tool_calls: Literal["name-args", "omit"] = "name-args"
    include_name: bool = True
    second_pass: bool = True
    """Normalize the dumped JSON text once more."""


@dataclass(frozen=True, kw_only=True)
class KeyScheme:
    """How keys are built from a caller and a conversation hash."""

    __pydantic_config__ = VALIDATION

    caller_aware: bool = True
    legacy_fallback: bool = True
    default_caller: str = "lead_agent"
    caller_aliases: dict[str, str] = field(default_factory=lambda: {"title_agent": "middleware:title"})
    normalize_caller: bool = True


@dataclass(frozen=True, kw_only=True)
class Rules:
    """An effective rule set."""

    preset: str
    substitutions: tuple[Substitution, ...]
    projection: Projection = field(default_factory=Projection)
    key: KeyScheme = field(default_factory=KeyScheme)

    def fingerprint(self) -> str:
        """A short hash of everything that affects keys (the preset name does not)."""
        return self._fingerprint

    @functools.cached_property
    def _fingerprint(self) -> str:  # a check asks for it once per memo it keeps: it is computed once
        payload = {name: value for name, value in self.to_json().items() if name != "preset"}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        """The rules as JSON data, field names as in Python (what `from_json` reads)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rules:
        """Rules from `to_json` data (written by this program, so not validated again)."""
        projection = data["projection"]
        return cls(
            preset=data["preset"],
            substitutions=tuple(Substitution(**{**sub, "flags": tuple(sub["flags"])}) for sub in data["substitutions"]),
            projection=Projection(**{**projection, "skip_types": tuple(projection["skip_types"])}),
            key=KeyScheme(**data["key"]),
        )
