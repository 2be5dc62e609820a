"""Normalization rules as data: substitutions, projection options and the key scheme.

A rule set is plain data so it can be written in TOML, compared, fingerprinted and
shown to the user; `server.engine.normalize` turns it into a working normalizer.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=_kebab, populate_by_name=True)


RegexFlag = Literal["dotall", "multiline", "ignorecase", "ascii"]

_FLAG_BITS: dict[str, re.RegexFlag] = {
    "dotall": re.DOTALL,
    "multiline": re.MULTILINE,
    "ignorecase": re.IGNORECASE,
    "ascii": re.ASCII,
}


class Substitution(StrictModel):
    """One regex substitution, applied with Python's `re.sub` semantics."""

    name: str = Field("", description="Short name shown in hovers and findings.")
    pattern: str
    replacement: str = ""
    flags: tuple[RegexFlag, ...] = ()

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return pattern

    def compile(self) -> re.Pattern[str]:
        bits = re.RegexFlag(0)
        for flag in self.flags:
            bits |= _FLAG_BITS[flag]
        return re.compile(self.pattern, bits)


class Projection(StrictModel):
    """How an input message list is projected before it is dumped and hashed."""

    skip_types: tuple[str, ...] = ("system",)
    skip_hidden: bool = Field(True, description="Skip messages whose additional_kwargs.hide_from_ui is truthy.")
    drop_empty: bool = Field(True, description="Skip messages empty after normalization and without tool calls.")
    tool_calls: Literal["name-args", "omit"] = "name-args"
    include_name: bool = True
    second_pass: bool = Field(True, description="Normalize the dumped JSON text once more.")


class KeyScheme(StrictModel):
    """How keys are built from a caller and a conversation hash."""

    caller_aware: bool = True
    legacy_fallback: bool = True
    default_caller: str = "lead_agent"
    caller_aliases: dict[str, str] = Field(default_factory=lambda: {"title_agent": "middleware:title"})
    normalize_caller: bool = True


class Rules(StrictModel):
    """An effective rule set."""

    preset: str
    substitutions: tuple[Substitution, ...]
    projection: Projection = Projection()
    key: KeyScheme = KeyScheme()

    def fingerprint(self) -> str:
        """A short hash of everything that affects keys (the preset name does not)."""
        payload = self.model_dump(mode="json", exclude={"preset"})
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()[:16]
