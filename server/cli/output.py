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
import sys
from typing import Any

from server.engine.jsontext import dumps

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
    """`document` as JSON, non-ASCII kept as is and every surrogate escaped (`\\udcff`): always valid UTF-8."""
    return dumps(document, indent=indent)
