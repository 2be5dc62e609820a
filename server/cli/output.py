"""What the CLI prints, whatever text it carries: names that are not UTF-8 and lone surrogates never crash it.

Python reads a file name that is not UTF-8 (`bad\\xffname.jsonl`) as text holding
surrogates (`\\udcff`, its `surrogateescape` form), and a recording may hold a
lone surrogate of its own (JSON `"\\udfff"`). Neither can be encoded as UTF-8.

- JSON and SARIF escape every surrogate as `\\uXXXX`: the document stays valid
  UTF-8 JSON and reads back to the same string (`json_text`).
- Text output writes a file name's surrogates back as the bytes they stand for
  (`surrogateescape`, so the name printed is the name on disk) and any other
  lone surrogate as the escape `\\udfff` (`configure_streams`).
"""

from __future__ import annotations

import codecs
import json
import sys
from json.encoder import encode_basestring

from server.engine.jsontext import dumps, escape_surrogates

TYPE_CHECKING = False  # true for type checkers; `typing` is 2 ms of a warm `check`, which runs none of it
if TYPE_CHECKING:
    from typing import Any

_string = encode_basestring  # the C encoder of `json.dumps(..., ensure_ascii=False)`
_integer = int.__repr__

ERRORS = "replay-lens-text"
"""The codec error handler of the CLI's streams: see the module's docstring."""


def _escape_surrogates(error: UnicodeError) -> tuple[str | bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = bytearray()
    for char in error.object[error.start : error.end]:
        code = ord(char)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}".encode()
    return bytes(out), error.end


codecs.register_error(ERRORS, _escape_surrogates)


def configure_streams() -> None:
    """Make stdout and stderr write any text (see the module's docstring) instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=ERRORS)


def json_text(document: Any, *, indent: int | None = 2) -> str:
    """`document` as JSON, non-ASCII kept as is and every surrogate escaped (`\\udcff`): always valid UTF-8. With
    the usual two-space indent it is built by `indented_json` (a 3.7 MB replay report took 1.3 s through the
    pure-Python encoder `json.dumps` uses for an indent)."""
    if indent == 2:
        return escape_surrogates(indented_json(document))
    return dumps(document, indent=indent)


def indented_json(value: Any, pad: str = "") -> str:
    """`json_text(value)` (two-space indent) standing at indentation `pad`, byte for byte, but built with the
    C string encoder: `json.dumps` with an indent runs the pure-Python encoder (0.6 s of a 13 MB report).
    The caller escapes surrogates (`escape_surrogates`) once over the whole text."""
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is int:
        return _integer(value)
    # Loops, not comprehensions: a comprehension is a frame of its own, and a value nested as deep as `json`
    # reads (about 1,000 levels) must not run out of them.
    if kind is dict:
        if not value:
            return "{}"
        inner = pad + "  "
        members = []
        for key, item in value.items():
            members.append(_key(key) + ": " + indented_json(item, inner))
        return "{\n" + inner + (",\n" + inner).join(members) + "\n" + pad + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = pad + "  "
        items = []
        for item in value:
            items.append(indented_json(item, inner))
        return "[\n" + inner + (",\n" + inner).join(items) + "\n" + pad + "]"
    if isinstance(value, (dict, list, tuple)):  # a subclass, or a tuple (a list to `json`)
        return indented_json(dict(value) if isinstance(value, dict) else list(value), pad)
    return json.dumps(value, ensure_ascii=False)  # None, booleans, floats (NaN as `json` writes it), str/int kin


def _key(key: Any) -> str:
    """A member name as `json` writes it: a string, or a number, boolean or null made one."""
    return _string(key) if type(key) is str else json.dumps({key: 0}, ensure_ascii=False)[1:-4]
