"""A pattern rewritten for `regex` so that it matches exactly what this interpreter's `re` matches.

User rules run on the `regex` package for its match timeout, but `regex` ships its
own Unicode tables, newer than those of the running Python (whose `re` follows
`unicodedata.unidata_version`), and folds case its own way. The producers compute
their keys with `re`, so `\\d` meeting a Kawi digit (Unicode 15) must do what
`re` does. Rather than run the pattern as written, we walk `re`'s own parse of it
and write it out again with nothing left for `regex` to interpret:

- every single-character test whose meaning depends on Unicode data (a class with
  `\\d \\w \\s` or their negations, anything under IGNORECASE, either with or
  without ASCII) becomes the explicit set of code points it matches, found by
  running `re` itself over every code point: exact by construction, whatever the
  tables of either side;
- `\\b` and `\\B` become look-arounds on the explicit word set (`re`'s definition of
  a word character), with `re`'s rule that neither matches in an empty string;
- `.`, `^` and `$` become explicit look-arounds and classes on `\\n` (the only line
  break `re` knows), so the result is compiled with no flags at all.

A set is written the cheapest exact way for `regex` to test: a few runs as a class;
`regex`'s own category plus the code points only `re` has (`\\s` is `[\\s\\x1c-\\x1f]`,
`\\d` is `[^\\D` and the digits only `regex` knows`]`), one class tested at native speed;
else (`\\w`, case-folded classes) a search tree of one-range look-aheads, ASCII first.

The cost is paid once per pattern (a scan of the 1.1 million code points at C speed
per distinct test, cached; about 40 ms for the deerflow preset). The one construct that cannot be written out is a
back-reference under IGNORECASE: it is kept under `regex`'s own case folding.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import regex

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_compile
    import sre_constants as sc
    import sre_parse

_LAST = 0x10FFFF
_UNICODE_FLAGS = re.IGNORECASE | re.ASCII | re.UNICODE
"""The flags that change what a single-character test matches (`re.LOCALE` is refused for text patterns)."""
_TABLES = re.ASCII | re.UNICODE
"""Which character tables a category or a boundary uses (the parser sets exactly one for a text pattern)."""
_EMPTY_BOUNDARY_FAILS = re.search(r"\B", "") is None
"""`re` before 3.14 finds neither `\\b` nor `\\B` in an empty string."""
_LEAF = 8
"""The most runs written as one class: `regex` tests a class's members one by one."""
_COUNTS = {(0, sc.MAXREPEAT): "*", (1, sc.MAXREPEAT): "+", (0, 1): "?"}
_AT = {
    sc.AT_BEGINNING: r"\A",
    sc.AT_BEGINNING_STRING: r"\A",
    sc.AT_END: r"(?=\n?\Z)",
    sc.AT_END_STRING: r"\Z",
    sc.AT_BEGINNING_LINE: r"(?<![^\n])",
    sc.AT_END_LINE: r"(?![^\n])",
}


_translating = threading.local()
"""Every code point as one string (`every`), while a translation in this thread needs it or while it is
`kept` for several."""


class UntranslatableError(Exception):
    """The parse holds a construct this module does not know (a newer Python's): run the source as written."""


def translate(pattern: re.Pattern[str]) -> str:
    """Source for `regex` (VERSION0, no flags) that matches what `pattern` matches under `re`, group for group."""
    parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    names = {number: name for name, number in parsed.state.groupdict.items()}
    try:
        return _Writer(names).sequence(list(parsed.data), parsed.state.flags)
    finally:
        if not getattr(_translating, "kept", False):
            _translating.every = None


@contextlib.contextmanager
def code_points_kept() -> Iterator[None]:
    """Translations in this block share one string of every code point (built when first needed)."""
    _translating.kept = True
    try:
        yield
    finally:
        _translating.kept = False
        _translating.every = None


class _Writer:
    def __init__(self, names: dict[int, str]) -> None:
        self.names = names

    def sequence(self, items: list[Any], flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in items)

    def item(self, op: Any, av: Any, flags: int) -> str:
        if not flags & re.IGNORECASE and (op is sc.LITERAL or op is sc.NOT_LITERAL or _plain(op, av)):
            return _plain_class(op, av)
        if op in (sc.LITERAL, sc.NOT_LITERAL, sc.IN):
            return _tested(op, _frozen(av), flags & _UNICODE_FLAGS)
        if op is sc.ANY:
            return "(?s:.)" if flags & re.DOTALL else r"[^\n]"
        if op is sc.AT:
            if av in (sc.AT_BOUNDARY, sc.AT_NON_BOUNDARY):
                return _boundary(av is sc.AT_BOUNDARY, flags & _TABLES)
            return _AT[sc.AT_MULTILINE.get(av, av) if flags & re.MULTILINE else av]
        if op is sc.SUBPATTERN:
            group, add, remove, body = av
            inner = self.sequence(list(body), (flags | add) & ~remove)
            if group is None:
                return f"(?:{inner})"
            name = self.names.get(group)
            return f"(?P<{name}>{inner})" if name else f"({inner})"
        if op is sc.BRANCH:
            return "(?:" + "|".join(self.sequence(list(branch), flags) for branch in av[1]) + ")"
        if op in (sc.MAX_REPEAT, sc.MIN_REPEAT, sc.POSSESSIVE_REPEAT):
            low, high, body = av
            count = _COUNTS.get((low, high)) or (
                f"{{{low}}}" if low == high else f"{{{low},{'' if high is sc.MAXREPEAT else high}}}"
            )
            lazy = {sc.MIN_REPEAT: "?", sc.POSSESSIVE_REPEAT: "+"}.get(op, "")
            repeated = list(body)
            atom = len(repeated) == 1 and repeated[0][0] in (sc.LITERAL, sc.NOT_LITERAL, sc.IN, sc.ANY)
            source = self.sequence(repeated, flags)
            return f"{source if atom else f'(?:{source})'}{count}{lazy}"
        if op is sc.ATOMIC_GROUP:
            return f"(?>{self.sequence(list(av), flags)})"
        if op in (sc.ASSERT, sc.ASSERT_NOT):
            direction, body = av
            kind = ("?<" if direction < 0 else "?") + ("=" if op is sc.ASSERT else "!")
            return f"({kind}{self.sequence(list(body), flags)})"
        if op is sc.GROUPREF:
            return rf"(?i:\g<{av}>)" if flags & re.IGNORECASE else rf"(?:\g<{av}>)"
        if op is sc.GROUPREF_EXISTS:
            group, yes, no = av
            other = "|" + self.sequence(list(no), flags) if no is not None else ""
            return f"(?({group}){self.sequence(list(yes), flags)}{other})"
        raise UntranslatableError(f"{op}")


def _plain(op: Any, av: Any) -> bool:
    """A class of named characters and ranges only: it means the same in every Unicode version."""
    return op is sc.IN and all(member in (sc.LITERAL, sc.RANGE, sc.NEGATE) for member, _ in av)


def _plain_class(op: Any, av: Any) -> str:
    """A literal, a negated literal or a plain class, written as it is."""
    if op is sc.LITERAL:
        return _char(av)
    if op is sc.NOT_LITERAL:
        return f"[^{_char(av)}]"
    negate = "^" if av and av[0][0] is sc.NEGATE else ""
    parts = [
        f"{_char(value[0])}-{_char(value[1])}" if member is sc.RANGE else _char(value)
        for member, value in av
        if member is not sc.NEGATE
    ]
    return f"[{negate}{''.join(parts)}]" if parts else ("(?s:.)" if negate else r"[^\x00-\U0010ffff]")


def _frozen(value: Any) -> Any:
    """A parse item's argument as a hashable value (classes are lists)."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(part) for part in value)
    return value


def _char(code: int) -> str:
    """One code point as `regex` source, the same inside a class and out."""
    char = chr(code)
    if char.isascii():
        return char if char.isalnum() else f"\\x{code:02x}"
    return char


@functools.lru_cache(maxsize=4096)
def _tested(op: Any, av: Any, flags: int) -> str:
    """A single-character test written as the explicit set of code points `re` matches with it."""
    runs = _matched(op, av, flags)
    if len(runs) > _LEAF and op is sc.IN and not flags & (re.IGNORECASE | re.ASCII):
        native = _native(av, flags)
        if native is not None:
            return native
    return _class(runs)


CATEGORY_ESCAPES = {
    sc.CATEGORY_DIGIT: r"\d",
    sc.CATEGORY_NOT_DIGIT: r"\D",
    sc.CATEGORY_SPACE: r"\s",
    sc.CATEGORY_NOT_SPACE: r"\S",
    sc.CATEGORY_WORD: r"\w",
    sc.CATEGORY_NOT_WORD: r"\W",
}
"""`re`'s character categories as pattern text (also how `boundary` tests a character against one)."""
_FLIPPED = {
    sc.CATEGORY_DIGIT: sc.CATEGORY_NOT_DIGIT,
    sc.CATEGORY_SPACE: sc.CATEGORY_NOT_SPACE,
    sc.CATEGORY_WORD: sc.CATEGORY_NOT_WORD,
}
_NEGATIVES = frozenset(_FLIPPED.values())
_FLIPPED.update({value: key for key, value in _FLIPPED.items()})
_MAX_EXTRA = 64
"""The most runs added to a class written with `regex`'s own categories."""


def _native(av: Any, flags: int) -> str | None:
    """The class written with `regex`'s own categories plus the code points `re`'s hold and `regex`'s do not:
    one class, which `regex` tests at the speed of its own `\\d` (a class of hundreds of runs, or a tree of
    them, costs it ten times more per character). `[\\d]` is also tried as `[^\\D]`, since `regex`'s digits
    are a superset of `re`'s. None when neither is exact with a few runs added."""
    negated = bool(av) and av[0][0] is sc.NEGATE
    members = [(member, value) for member, value in av if member is not sc.NEGATE]
    forms = [(negated, members)]
    if len(members) == 1 and members[0][0] is sc.CATEGORY:
        forms.append((not negated, [(sc.CATEGORY, _FLIPPED[members[0][1]])]))
    for negate, items in forms:
        by_re = _merged([run for item in items for run in _member_runs(item, flags, _scanned)])
        by_regex = _merged([run for item in items for run in _member_runs(item, flags, _scanned_by_regex)])
        if _intersection(by_regex, _complement(by_re)):
            continue  # `regex` holds code points `re` does not: adding members cannot remove them
        extra = _intersection(by_re, _complement(by_regex))
        if len(extra) <= _MAX_EXTRA:
            written = "".join(
                CATEGORY_ESCAPES[value]
                if member is sc.CATEGORY
                else _members(_member_runs((member, value), flags, _scanned))
                for member, value in items
            )
            return f"[{'^' if negate else ''}{written}{_members(extra)}]"
    return None


def _member_runs(item: tuple[Any, Any], flags: int, scan: Any) -> list[tuple[int, int]]:
    member, value = item
    if member is sc.LITERAL:
        return [(value, value + 1)]
    if member is sc.RANGE:
        return [(value[0], value[1] + 1)]
    if value in _NEGATIVES:  # `\\D` is defined as not `\\d` by both engines: one scan serves both
        return _complement(list(scan(sc.IN, ((sc.CATEGORY, _FLIPPED[value]),), flags)))
    return list(scan(sc.IN, ((sc.CATEGORY, value),), flags))


@functools.lru_cache(maxsize=16)
def _scanned_by_regex(op: Any, av: Any, flags: int) -> list[tuple[int, int]]:
    """Runs of the code points `regex` (VERSION0, its own tables) matches with one category."""
    ((_, category),) = av
    return [
        match.span() for match in regex.finditer(CATEGORY_ESCAPES[category] + "+", _every_code_point(), regex.VERSION0)
    ]


def _intersection(first: list[tuple[int, int]], second: list[tuple[int, int]]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if start < end:
            found.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return found


def _matched(op: Any, av: Any, flags: int) -> list[tuple[int, int]]:
    """Runs `[start, end)` of the code points the test matches.

    Without IGNORECASE a class is the union of its members, negated with `^`
    (each category scanned once); anything else is scanned whole.
    """
    if op is not sc.IN or flags & re.IGNORECASE:
        return _scanned(op, av, flags)
    runs: list[tuple[int, int]] = []
    for member, value in av:
        if member in (sc.LITERAL, sc.RANGE, sc.CATEGORY):
            runs.extend(_member_runs((member, value), flags, _scanned))
        elif member is not sc.NEGATE:
            return _scanned(op, av, flags)
    merged = _merged(runs)
    return _complement(merged) if av and av[0][0] is sc.NEGATE else merged


@functools.lru_cache(maxsize=256)
def _scanned(op: Any, av: Any, flags: int) -> list[tuple[int, int]]:
    """Runs of the code points `re` itself matches with the test, found by scanning every code point with it.

    What is scanned is the test's complement (`[^…]` for `[…]`, `NOT_LITERAL` for `LITERAL`, as `re` itself
    defines them), whose runs are the gaps between the test's: `re` runs along a run of matches at C speed,
    but tries a failing search once per code point, and most tests match few of the 1.1 million (scanning
    `\\D+` takes a quarter of the time of `\\d+`)."""
    flipped = _complemented(op, av)
    state = sre_parse.State()
    state.flags = flags
    test = sre_parse.SubPattern(state, [flipped])
    repeat: Any = (1, sc.MAXREPEAT, test)
    runs = sre_parse.SubPattern(state, [(sc.MAX_REPEAT, repeat)])
    scanner = sre_compile.compile(runs, flags)
    return _complement([match.span() for match in scanner.finditer(_every_code_point())])


def _complemented(op: Any, av: Any) -> tuple[Any, Any]:
    """The single-character test that matches exactly the code points `(op, av)` does not."""
    if op is sc.LITERAL:
        return sc.NOT_LITERAL, av
    if op is sc.NOT_LITERAL:
        return sc.LITERAL, av
    if op is not sc.IN:
        raise UntranslatableError(f"no complement known for {op}")
    members = [tuple(member) for member in av]
    if members and members[0][0] is sc.NEGATE:
        return sc.IN, members[1:]
    if len(members) == 1 and members[0][0] is sc.CATEGORY:  # `[\D]`: `re` runs along it twice as fast as `[^\d]`
        return sc.IN, [(sc.CATEGORY, _FLIPPED[members[0][1]])]
    return sc.IN, [(sc.NEGATE, None), *members]


def _merged(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(runs):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _complement(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    edges = [0, *(edge for run in runs for edge in run), _LAST + 1]
    return [(start, end) for start, end in zip(edges[::2], edges[1::2], strict=True) if start < end]


def _every_code_point() -> str:
    """The string whose character at index i is chr(i), lone surrogates included (texts may hold them).

    Built once per `translate` or `code_points_kept` block (and dropped after it: 4.4 MB), as UTF-32 bytes a
    byte column at a time (C-speed slice assignments), then decoded (`_built`).
    """
    every: str | None = getattr(_translating, "every", None)
    if every is None:
        every = _translating.every = _built()
    return every


def _built() -> str:
    """Plane by plane: one 256 KB buffer of UTF-32 bytes, its plane byte changed and decoded 17 times (a 4.4 MB
    buffer for all of them took three times as long in a new process, most of it faulting its pages in)."""
    plane = bytearray(4 * 65536)
    plane[0::4] = bytes(range(256)) * 256
    plane[1::4] = b"".join(bytes([byte]) * 256 for byte in range(256))
    texts = [plane.decode("utf-32-le", "surrogatepass")]  # the lone surrogates are in plane 0
    for number in range(1, (_LAST + 1) // 65536):
        plane[2::4] = bytes([number]) * 65536
        texts.append(plane.decode("utf-32-le"))
    return "".join(texts)


def _class(runs: list[tuple[int, int]]) -> str:
    """The runs as one class, written negated when that is shorter (most sets past ASCII are)."""
    if not runs:
        return r"[^\x00-\U0010ffff]"
    gaps = _complement(runs)
    if not gaps:
        return "(?s:.)"
    if len(runs) == 1 and runs[0][1] - runs[0][0] == 1:
        return _char(runs[0][0])
    if len(gaps) < len(runs) and len(gaps) <= _LEAF:
        return "[^" + _members(gaps) + "]"
    if len(runs) <= _LEAF:
        return "[" + _members(runs) + "]"
    ascii_runs = [(start, min(end, 128)) for start, end in runs if start < 128]
    wide = _tree([(max(start, 128), end) for start, end in runs if end > 128])
    if not ascii_runs:
        return wide
    return f"(?:[{_members(ascii_runs)}]|{wide})" if wide else f"[{_members(ascii_runs)}]"


def _tree(runs: list[tuple[int, int]]) -> str:
    """Runs as a search tree of look-aheads on one range each, explicit classes of a few runs at its leaves.

    `regex` tests a class member by member: a class of hundreds of runs (`\\w`)
    costs it 20 times its own `\\w` per character, a tree a few range tests.
    """
    if len(runs) <= _LEAF:
        return "[" + _members(runs) + "]" if runs else ""
    middle = len(runs) // 2
    split = runs[middle][0]
    low, high = runs[0][0], runs[-1][1] - 1
    return (
        f"(?:(?=[{_char(low)}-{_char(split - 1)}]){_tree(runs[:middle])}"
        f"|(?=[{_char(split)}-{_char(high)}]){_tree(runs[middle:])})"
    )


def _members(runs: list[tuple[int, int]]) -> str:
    return "".join(_char(start) if end - start == 1 else f"{_char(start)}-{_char(end - 1)}" for start, end in runs)


@functools.lru_cache(maxsize=4)
def _boundary(at_boundary: bool, tables: int) -> str:
    """`\\b` or `\\B` with `re`'s word characters (its `\\w`), as look-arounds."""
    word = _tested(sc.IN, ((sc.CATEGORY, sc.CATEGORY_WORD),), tables)
    if at_boundary:
        return f"(?:(?<={word})(?!{word})|(?<!{word})(?={word}))"
    inside = f"(?:(?<={word})(?={word})|(?<!{word})(?!{word}))"
    return rf"(?:(?=(?s:.))|(?<=(?s:.))){inside}" if _EMPTY_BOUNDARY_FAILS else inside
