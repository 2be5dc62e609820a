"""A located, error-tolerant JSON walker built on the C scanner of `json`.

The top levels of a document (objects and arrays the caller asks to walk) are
walked here in Python so every member gets its source span; every value below
that is parsed in one call to the C scanner. Each byte is parsed once, at close
to C speed, and a syntax error is reported at its exact offset instead of
losing the whole file.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from server.engine.source import Span

_DECODER = json.JSONDecoder()
_scan_once = cast(Callable[[str, int], tuple[Any, int]], json.scanner.make_scanner(_DECODER))  # type: ignore[arg-type]
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WHITESPACE = " \t\n\r"
_KEY = re.compile(r'"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
"""A plain key (no escape, nothing `scanstring` would refuse), its colon and the space around: one match."""
_NEXT = re.compile(r"[ \t\n\r]*(?:(,)[ \t\n\r]*|\})")
"""What may follow a member: a comma and the space after it, or the closing brace."""


class JsonError(Exception):
    """A syntax error at a string offset."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


@dataclass(slots=True)
class Member:
    """One `"key": value` of an object, both located."""

    key: str
    key_span: Span
    value: Any
    span: Span


def skip_ws(text: str, index: int) -> int:
    length = len(text)
    while index < length and text[index] in _WHITESPACE:
        index += 1
    return index


def scan_value(text: str, index: int) -> tuple[Any, int]:
    """Parse one complete JSON value starting at `index` (no leading space)."""
    try:
        return _scan_once(text, index)
    except StopIteration as stop:
        raise JsonError(stop.value, _expected_value(text, stop.value)) from None
    except json.JSONDecodeError as exc:
        raise JsonError(exc.pos, exc.msg) from None
    except RecursionError:
        raise JsonError(index, "JSON nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise JsonError(index, str(exc)) from None


def scan_string(text: str, index: int) -> tuple[str, int]:
    """Parse a JSON string whose opening quote is at `index`."""
    if index >= len(text) or text[index] != '"':
        raise JsonError(index, "Expecting property name enclosed in double quotes")
    try:
        return _scanstring(text, index + 1, True)
    except json.JSONDecodeError as exc:
        raise JsonError(exc.pos, exc.msg) from None


ValueParser = Callable[[str, int], tuple[Any, int]]


def read_members(text: str, index: int, members: list[Member], walkers: dict[str, ValueParser] | None = None) -> int:
    """Read the object whose `{` is at `index` into `members`, located; return the offset just past its `}`.

    `walkers` parse the values of chosen keys themselves (to locate what is
    inside them); every other value goes to the C scanner. A syntax error raises
    `JsonError`, and the members read before it stay in `members`.
    """
    if index >= len(text) or text[index] != "{":
        raise JsonError(index, "Expecting '{'")
    index = skip_ws(text, index + 1)
    if index < len(text) and text[index] == "}":
        return index + 1
    while True:
        # One regex match for the usual key and one for the usual delimiter (a character-by-character
        # skip of an indented fixture's space was a third of reading it); anything else takes the
        # exact path, which says what is wrong where.
        key_start = index
        plain = _KEY.match(text, index)
        if plain is not None:
            key, key_end, index = plain.group(1), plain.end(1) + 1, plain.end()
        else:
            key, key_end = scan_string(text, index)
            index = skip_ws(text, key_end)
            if index >= len(text) or text[index] != ":":
                raise JsonError(index, "Expecting ':' delimiter")
            index = skip_ws(text, index + 1)
        value_start = index
        parse = walkers.get(key, scan_value) if walkers else scan_value
        value, index = parse(text, index)
        members.append(Member(key, Span(key_start, key_end), value, Span(value_start, index)))
        delimiter = _NEXT.match(text, index)
        if delimiter is None:
            raise JsonError(skip_ws(text, index), "Expecting ',' delimiter or '}'")
        if delimiter.group(1) is None:
            return delimiter.end()
        index = delimiter.end()


def parse_members(text: str, index: int) -> tuple[list[Member], int]:
    """All members of the object at `index` and the offset past its `}`."""
    members: list[Member] = []
    end = read_members(text, index, members)
    return members, end


def _expected_value(text: str, index: int) -> str:
    if index >= len(text):
        return "Unexpected end of file: expecting a value"
    return f"Expecting value, found {text[index]!r}"
