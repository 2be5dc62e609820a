"""JSON text that is always valid UTF-8, even when a string holds a lone surrogate.

A recording may carry `"\\udfff"` (valid JSON, read by Python as a lone
surrogate) and a file name that is not UTF-8 reads as surrogates too; such a
string has no UTF-8 encoding. Written with `ensure_ascii=False` (the layout
producers use), it would fail to encode: here each surrogate is written as its
JSON escape instead, which reads back as the same string.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False  # true for type checkers; `typing` is 2 ms of a warm `check`, which runs none of it
if TYPE_CHECKING:
    from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """`text` (JSON) with every surrogate character written as its `\\uXXXX` escape."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """`json.dumps(value, indent=indent, ensure_ascii=False)`, surrogates escaped: it always encodes as UTF-8."""
    return escape_surrogates(json.dumps(value, indent=indent, ensure_ascii=False))
