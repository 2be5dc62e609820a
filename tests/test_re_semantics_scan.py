"""`re_semantics` finds the code points a test matches by scanning the test's complement and taking the gaps:
these are the runs scanning the test itself gives, for categories, classes, literals and both under every
flag that changes what a single character matches (including case folding's odd pairs and lone surrogates)."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

from server.engine import re_semantics

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_compile
    import sre_constants as sc
    import sre_parse

TESTS = [r"\d", r"\D", r"\s", r"\S", r"\w", r"\W", "[a-z]", "[^a-z]", "k", "[^k]", "ß", r"[\dA-F]", r"[^\s\w]"]
TESTS += ["[\u017f\u212a]", "\u0130", "[\u0130-\u0131]", r"[^\x00-\U0010ffff]", r"[\ud800-\udfff]", "\ud801"]
FLAGS = [re.UNICODE, re.UNICODE | re.IGNORECASE, re.ASCII, re.ASCII | re.IGNORECASE]


def scanned_directly(op: Any, av: Any, flags: int) -> list[tuple[int, int]]:
    """The runs `re` finds scanning every code point with the test itself (what `_scanned` did before)."""
    state = sre_parse.State()
    state.flags = flags
    test = sre_parse.SubPattern(state, [(op, [tuple(member) for member in av] if op is sc.IN else av)])
    runs = sre_parse.SubPattern(state, [(sc.MAX_REPEAT, (1, sc.MAXREPEAT, test))])
    every = re_semantics._every_code_point()
    return [match.span() for match in sre_compile.compile(runs, flags).finditer(every)]


@pytest.mark.parametrize("flags", FLAGS, ids=["unicode", "unicode-ignorecase", "ascii", "ascii-ignorecase"])
def test_the_complement_scan_finds_what_scanning_the_test_finds(flags: int) -> None:
    with re_semantics.code_points_kept():
        for source in TESTS:
            parsed = sre_parse.parse(source, flags)
            ((op, av),) = list(parsed.data)
            frozen = tuple(tuple(member) for member in av) if op is sc.IN else av
            re_semantics._scanned.cache_clear()
            found = re_semantics._scanned(op, frozen, parsed.state.flags)
            assert found == scanned_directly(op, frozen, parsed.state.flags), source
            assert bool(found) is (source != r"[^\x00-\U0010ffff]"), source  # a test that matches nothing is one


def test_every_code_point_is_at_its_own_index() -> None:
    """The string scanned is chr(0) … chr(0x10FFFF) in order, lone surrogates included, built plane by plane."""
    with re_semantics.code_points_kept():
        every = re_semantics._every_code_point()
    assert every == "".join(map(chr, range(0x110000)))
