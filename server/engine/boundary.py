"""Which substitutions may run message by message in the second pass.

The second pass normalizes the dumped list text `[p0, p1, ...]` (each `p` a message's
JSON object). Normalizing each distinct message once and joining the results is
exact only when no match of a rule depends on text outside its own message. Each
rule gets a static class here; `risky()` then checks the class's assumption on each
message's actual text (at that rule's stage), and the caller falls back to the full
computation whenever anything is uncertain.

- LOCAL: the rule can never consume `{` or `}` nor match inside the separators, so
  every match stays strictly inside one message object (which starts with `{` and
  ends with `}`).
- CONTAINED: the rule can never consume `"` and every match needs a character that
  JSON's structural text cannot hold, so every match stays inside one string token;
  checked per message: the text before its first and after its last quote is
  structural.
- GATED: every match contains one of a few literal strings; a message whose text
  holds none of them cannot take part in any match.
- ANCHORED_NOOP: the rule is anchored at the start and cannot start with `[` or `{`,
  and the text has no raw newline, so it matches nowhere in either computation.
- UNSAFE: none of the above: always the full computation.

It also tells what a text must hold for a rule to match in it (`leads`, `screens`):
a text that holds nothing any rule needs is its own normalization, so neither
pass runs the rules over it; this is what skips the second pass over nearly every
message, and the date, timestamp and UUID rules (whose only literal is `-`) share
one search for a dash with digits around it.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from itertools import product
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as sc
    import sre_parse

from server.engine.re_semantics import CATEGORY_ESCAPES

# Characters that can appear in JSON text outside string tokens.
STRUCTURAL = frozenset(" \t\n\r{}[],:0123456789-+.eEtrufalsn")
_SEPARATOR_PIECES = (",", " ", ", ", "[", "]")
_ALLOWED_ZERO_WIDTH = {sc.AT_BOUNDARY, sc.AT_NON_BOUNDARY}
_START_ANCHORS = {sc.AT_BEGINNING, sc.AT_BEGINNING_STRING, sc.AT_BEGINNING_LINE}
_CATEGORY_TESTS = {
    **CATEGORY_ESCAPES,
    sc.CATEGORY_LINEBREAK: r"\n",
    sc.CATEGORY_NOT_LINEBREAK: r"[^\n]",
}
_MAX_LITERALS = 64
_REPEATS = (sc.MAX_REPEAT, sc.MIN_REPEAT, sc.POSSESSIVE_REPEAT)


class Kind(Enum):
    LOCAL = "local"
    CONTAINED = "contained"
    GATED = "gated"
    ANCHORED_NOOP = "anchored-noop"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True)
class RuleSafety:
    kind: Kind
    literals: tuple[str, ...] = ()
    multiline: bool = False


@lru_cache(maxsize=1024)
def classify(pattern: re.Pattern[str], replacement: str) -> RuleSafety:
    """The static class of one substitution (cached: rule sets are compiled again and again)."""
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # anything the parser rejects is simply not analysed
        return RuleSafety(Kind.UNSAFE)
    flags = parsed.state.flags
    items: list[Any] = parsed.data
    if parsed.getwidth()[0] == 0:
        return RuleSafety(Kind.UNSAFE)
    literals = _gate_literals(items, flags)
    zero_width = _forbidden_zero_width(items)
    if zero_width == "anchor" and _anchored_noop(items, flags):
        return RuleSafety(Kind.ANCHORED_NOOP, multiline=bool(flags & re.MULTILINE))
    if zero_width is None:
        keeps_braces = "{" not in replacement and "}" not in replacement
        if (
            keeps_braces
            and not _can_consume(items, "{", flags)
            and not _can_consume(items, "}", flags)
            and not any(pattern.fullmatch(piece) for piece in _SEPARATOR_PIECES)
        ):
            return RuleSafety(Kind.LOCAL)
        if '"' not in replacement and not _can_consume(items, '"', flags) and _requires_nonstructural(items, flags):
            return RuleSafety(Kind.CONTAINED)
    if literals:
        return RuleSafety(Kind.GATED, literals=literals)
    return RuleSafety(Kind.UNSAFE)


@lru_cache(maxsize=1024)
def required_literals(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """Strings one of which every match of `pattern` contains (empty: no such set is known).

    A text that holds none of them has no match, so the pattern need not run over
    it: a cheap `in` test instead of a regex scan, most of normalizing's cost.
    """
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # anything the parser rejects is simply not analysed
        return ()
    if parsed.state.flags & re.IGNORECASE:
        return ()
    return tuple(sorted(_best_literals(parsed.data) or ()))


def risky(safety: RuleSafety, text: str) -> bool:
    """True when `text` (one message object at this rule's stage) breaks the class's assumption."""
    if safety.kind is Kind.UNSAFE:
        return True
    if not (text.startswith("{") and text.endswith("}")):
        return True
    if safety.kind is Kind.LOCAL:
        return False
    if safety.kind is Kind.CONTAINED:
        first, last = text.find('"'), text.rfind('"')
        return first < 0 or not STRUCTURAL.issuperset(text[:first]) or not STRUCTURAL.issuperset(text[last + 1 :])
    if safety.kind is Kind.GATED:
        return any(literal in text for literal in safety.literals)
    return safety.multiline and "\n" in text


# --- static analysis over sre_parse trees -------------------------------------------------


def _forbidden_zero_width(items: list[Any]) -> str | None:
    """'lookaround', 'anchor' or None: zero-width assertions whose result depends on context."""
    found: str | None = None
    for op, av in items:
        if op in (sc.ASSERT, sc.ASSERT_NOT):
            return "lookaround"
        if op is sc.AT and av not in _ALLOWED_ZERO_WIDTH:
            found = "anchor"
        for child in _children(op, av):
            inner = _forbidden_zero_width(child)
            if inner == "lookaround":
                return inner
            found = found or inner
    return found


def _children(op: Any, av: Any) -> list[list[Any]]:
    if op is sc.SUBPATTERN:
        return [list(av[3])]
    if op in _REPEATS:
        return [list(av[2])]
    if op is sc.BRANCH:
        return [list(branch) for branch in av[1]]
    if op is sc.ATOMIC_GROUP:
        return [list(av)]
    if op is sc.GROUPREF_EXISTS:
        return [list(av[1])] + ([list(av[2])] if av[2] is not None else [])
    if op in (sc.ASSERT, sc.ASSERT_NOT):
        return [list(av[1])]
    return []


def _subflags(op: Any, av: Any, flags: int) -> int:
    if op is sc.SUBPATTERN:
        return int((flags | av[1]) & ~av[2])
    return flags


def _can_consume(items: list[Any], char: str, flags: int) -> bool:
    for op, av in items:
        if op is sc.LITERAL:
            if _same_char(chr(av), char, flags):
                return True
        elif op is sc.NOT_LITERAL:
            if not _same_char(chr(av), char, flags):
                return True
        elif op is sc.ANY:
            if char != "\n" or flags & re.DOTALL:
                return True
        elif op is sc.IN:
            if _class_contains(av, char, flags):
                return True
        elif op in (sc.AT, sc.ASSERT, sc.ASSERT_NOT) or (op in _REPEATS and av[1] == 0):
            continue
        elif op in (sc.SUBPATTERN, sc.MAX_REPEAT, sc.MIN_REPEAT, sc.POSSESSIVE_REPEAT, sc.BRANCH, sc.ATOMIC_GROUP):
            sub = _subflags(op, av, flags)
            if any(_can_consume(child, char, sub) for child in _children(op, av)):
                return True
        else:  # back-references and anything unknown: assume the worst
            return True
    return False


def _same_char(literal: str, char: str, flags: int) -> bool:
    return literal == char or bool(flags & re.IGNORECASE and literal.lower() == char.lower())


def _class_contains(items: list[Any], char: str, flags: int) -> bool:
    negate = bool(items) and items[0][0] is sc.NEGATE
    found = False
    for op, av in items:
        if op is sc.LITERAL:
            found = found or _same_char(chr(av), char, flags)
        elif op is sc.RANGE:
            candidates = {char, char.lower(), char.upper()} if flags & re.IGNORECASE else {char}
            found = found or any(len(c) == 1 and av[0] <= ord(c) <= av[1] for c in candidates)
        elif op is sc.CATEGORY:
            test = _CATEGORY_TESTS.get(av)
            ascii_flag = re.ASCII if flags & re.ASCII else 0
            found = found or test is None or re.fullmatch(test, char, ascii_flag) is not None
        elif op is not sc.NEGATE:
            found = True
    return found != negate


def _requires_nonstructural(items: list[Any], flags: int) -> bool:
    """Every match holds a character that JSON's structural text cannot hold."""
    for op, av in items:
        if op is sc.LITERAL and not any(_same_char(chr(av), s, flags) for s in STRUCTURAL):
            return True
        if op is sc.IN and not any(_class_contains(av, s, flags) for s in STRUCTURAL):
            return True
        if op in (sc.SUBPATTERN, sc.ATOMIC_GROUP) and _requires_nonstructural(
            _children(op, av)[0], _subflags(op, av, flags)
        ):
            return True
        if op is sc.BRANCH and all(_requires_nonstructural(branch, flags) for branch in _children(op, av)):
            return True
        if op in _REPEATS and av[0] >= 1 and _requires_nonstructural(list(av[2]), flags):
            return True
    return False


def _anchored_noop(items: list[Any], flags: int) -> bool:
    """Anchored at the start only, and unable to match a text that starts with `[` or `{`."""
    if not items or items[0][0] is not sc.AT or items[0][1] not in _START_ANCHORS:
        return False
    rest = items[1:]
    if _forbidden_zero_width(rest) == "lookaround":
        return False
    first = _first_chars(rest, flags)
    return first is not None and "[" not in first and "{" not in first


def _first_chars(items: list[Any], flags: int) -> set[str] | None:
    """Which of `[` and `{` could be the first consumed character (None: unknown)."""
    if not items:
        return None
    op, av = items[0]
    probe = ("[", "{")
    if op in (sc.LITERAL, sc.NOT_LITERAL, sc.ANY, sc.IN):
        return {c for c in probe if _can_consume([(op, av)], c, flags)}
    if op is sc.SUBPATTERN and list(av[3]):
        inner = _first_chars(list(av[3]), _subflags(op, av, flags))
        return inner if inner is not None and _min_width(list(av[3])) > 0 else None
    if op is sc.BRANCH:
        result: set[str] = set()
        for branch in av[1]:
            part = _first_chars(list(branch), flags)
            if part is None or _min_width(list(branch)) == 0:
                return None
            result |= part
        return result
    if op in _REPEATS and av[0] >= 1:
        return _first_chars(list(av[2]), flags)
    return None


def _min_width(items: list[Any]) -> int:
    pattern = sre_parse.SubPattern(sre_parse.State(), items)
    return int(pattern.getwidth()[0])


def _gate_literals(items: list[Any], flags: int) -> tuple[str, ...]:
    """Strings one of which every match contains (empty: none good enough to gate on)."""
    if flags & re.IGNORECASE:
        return ()
    best = _best_literals(items)
    if not best:
        return ()
    if any("{" in s or "}" in s or set(s) <= set(", []") for s in best) or min(map(len, best)) < 3:
        return ()
    return tuple(sorted(best))


def _best_literals(items: list[Any]) -> set[str] | None:
    candidates: list[set[str]] = []
    run: list[set[str]] = []

    def close_run() -> None:
        if run:
            combined = _product(run)
            if combined is not None and "" not in combined:
                candidates.append(_minimal(combined))
            run.clear()

    for op, av in items:
        exact = _exact(op, av)
        if exact is not None:
            run.append(exact)
            continue
        close_run()
        if op is sc.SUBPATTERN and av[1] & re.IGNORECASE:
            continue  # `(?i:...)`: its literals match in other cases too
        if op in (sc.SUBPATTERN, sc.ATOMIC_GROUP):
            inner = _best_literals(_children(op, av)[0])
            if inner:
                candidates.append(inner)
        elif op is sc.BRANCH:
            parts = [_best_literals(branch) for branch in _children(op, av)]
            if all(parts):
                candidates.append(set().union(*[p for p in parts if p]))
        elif op in _REPEATS and av[0] >= 1:
            inner = _best_literals(list(av[2]))
            if inner:
                candidates.append(inner)
    close_run()
    candidates = [c for c in candidates if c and len(c) <= _MAX_LITERALS]
    return max(candidates, key=lambda c: min(map(len, c)), default=None)


def _exact(op: Any, av: Any) -> set[str] | None:
    """The finite set of strings an item matches exactly, if small."""
    if op is sc.LITERAL:
        return {chr(av)}
    if op is sc.SUBPATTERN and av[1] == 0 and av[2] == 0:
        return _product([_exact(o, a) for o, a in av[3]])
    if op is sc.BRANCH:
        sets = [_product([_exact(o, a) for o, a in branch]) for branch in av[1]]
        if any(s is None for s in sets):
            return None
        return set().union(*[s for s in sets if s is not None])
    if op is sc.MAX_REPEAT and av[0] == 0 and av[1] == 1:
        inner = _product([_exact(o, a) for o, a in av[2]])
        return None if inner is None else inner | {""}
    return None


def _product(parts: Sequence[set[str] | None]) -> set[str] | None:
    if any(part is None for part in parts):
        return None
    result = {""}
    for part in parts:
        assert part is not None
        result = {a + b for a, b in product(result, part)}
        if len(result) > _MAX_LITERALS:
            return None
    return result


def _minimal(strings: set[str]) -> set[str]:
    """Drop strings that contain another member: containing the shorter one is enough."""
    return {s for s in strings if not any(o != s and o in s for o in strings)}


# --- screens: what a text must hold for a pattern to match in it -------------------------

_WINDOW = 12
"""Characters kept on each side of a screen's leading literal (enough to tell a date from a word)."""
_ANY = "(?s:.)"
_ASCII = range(128)
_WORD = {*range(ord("0"), ord("9") + 1), *range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1), ord("_")}
_SPACE = {*range(9, 14), *range(0x1C, 0x21)}
# Each category as (its ASCII members, whether it may hold characters past ASCII): a superset of the category
# in any Unicode version, so of the explicit set `server.engine.re_semantics` gives `regex` to run.
_Categories = dict[Any, tuple[frozenset[int], bool]]
_CATEGORY_SUPERSETS: _Categories = {
    sc.CATEGORY_DIGIT: (frozenset(range(ord("0"), ord("9") + 1)), True),
    sc.CATEGORY_WORD: (frozenset(_WORD), True),
    sc.CATEGORY_SPACE: (frozenset(_SPACE), True),
    sc.CATEGORY_NOT_DIGIT: (frozenset(set(_ASCII) - set(range(ord("0"), ord("9") + 1))), True),
    sc.CATEGORY_NOT_WORD: (frozenset(set(_ASCII) - _WORD), True),
    sc.CATEGORY_NOT_SPACE: (frozenset(set(_ASCII) - _SPACE), True),
}
_CATEGORY_ASCII: _Categories = {
    **_CATEGORY_SUPERSETS,
    sc.CATEGORY_DIGIT: (frozenset(range(ord("0"), ord("9") + 1)), False),
    sc.CATEGORY_WORD: (frozenset(_WORD), False),
    sc.CATEGORY_SPACE: (frozenset({*range(9, 14), 0x20}), False),
}

_Slot = tuple[str, str | None]
"""One character every match holds at a fixed place: a class that holds it, and the character when known."""


Lead = tuple[str, str]
"""One way a text can hold what a pattern needs: a character, and the regex that must match right after it."""


@lru_cache(maxsize=1024)
def leads(pattern: re.Pattern[str]) -> tuple[Lead, ...]:
    """Ways every text `pattern` matches in holds a match of one of them (empty: none is known).

    Either the pattern's required literals, or one of its literals with the
    characters every match has beside it: `\\d{4}-\\d{2}-\\d{2}` gives `-` then
    `(?<=\\d{4}-)\\d{2}-\\d{2}`, each class widened to what any Unicode version
    may put in it: a superset of what the rule runs with (`re`'s own sets, written
    out for `regex` by `server.engine.re_semantics`), and cheap to compile.
    """
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # anything the parser rejects is simply not analysed
        return ()
    flags = parsed.state.flags
    if flags & re.IGNORECASE:
        return ()
    categories = _CATEGORY_ASCII if flags & re.ASCII else _CATEGORY_SUPERSETS
    items: list[Any] = parsed.data
    if len(items) == 1 and items[0][0] is sc.BRANCH:  # `a|b`: a match of either, so what either needs
        branches = [list(branch) for branch in items[0][1][1]]
        ways = [_leads_of(branch, tuple(sorted(_best_literals(branch) or ())), categories) for branch in branches]
        return tuple(way for found in ways for way in found) if all(ways) else ()
    return _leads_of(items, required_literals(pattern), categories)


def _leads_of(items: list[Any], literals: tuple[str, ...], categories: _Categories) -> tuple[Lead, ...]:
    """The leads of a sequence of items that holds one of `literals` in every match."""
    best: tuple[int, Lead] | None = None
    for segment in _segments(items, categories):
        found = _windowed(segment)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    if best is not None and best[0] > min(map(len, literals), default=0):
        return (best[1],)
    return tuple((literal[0], _escaped(literal[1:])) for literal in literals)


def screens(found: Sequence[tuple[Lead, ...]]) -> tuple[re.Pattern[str], ...]:
    """Regexes, one for each leading character, that together match every text one of the `found` ways.

    Each starts with its character, so a search hops from one occurrence of it
    to the next at C speed, where a pattern led by a class or an alternation is
    tried at every character of the text.
    """
    by_lead: dict[str, list[str]] = {}
    for lead, rest in (way for ways in found for way in ways):
        by_lead.setdefault(lead, []).append(rest)
    return tuple(
        re.compile(_escaped(lead) + ("(?:" + "|".join(rests) + ")" if all(rests) else ""))
        for lead, rests in by_lead.items()
    )


def _segments(items: list[Any], categories: _Categories) -> list[list[_Slot]]:
    """Runs of characters that every match holds side by side, one slot each (a long repeat gives its ends)."""
    segments: list[list[_Slot]] = [[]]

    def walk(sequence: list[Any]) -> None:
        for op, av in sequence:
            slot = _slot(op, av, categories)
            if slot is not None:
                segments[-1].append(slot)
            elif op is sc.SUBPATTERN and av[1] == 0 and av[2] == 0:
                walk(list(av[3]))  # a plain group: its characters stand in line with the rest
            elif op in (sc.AT, sc.ASSERT, sc.ASSERT_NOT):
                continue  # zero-width: the characters on either side are still neighbours
            elif op in _REPEATS and len(av[2]) == 1 and av[0] >= 1:
                op_inner, av_inner = next(iter(av[2]))
                inner = _slot(op_inner, av_inner, categories)
                if inner is None:
                    segments.append([])
                    continue
                count = min(av[0], _WINDOW)
                segments[-1].extend([inner] * count)  # the first `count` characters follow what came before
                if av[0] != av[1] or av[0] > _WINDOW:
                    segments.append([inner] * count)  # and the last `count` precede what comes next
            else:
                segments.append([])

    walk(items)
    return [segment for segment in segments if segment]


def _slot(op: Any, av: Any, categories: _Categories) -> _Slot | None:
    """The slot of an item that matches exactly one character, or None."""
    if op is sc.LITERAL:
        return _escaped(chr(av)), chr(av)
    if op is sc.NOT_LITERAL:
        return f"[^{_escaped(chr(av))}]", None
    if op is sc.ANY:
        return _ANY, None
    if op is not sc.IN:
        return None
    members: list[Any] = list(av)
    if members and members[0][0] is sc.NEGATE:  # exact when it names characters only; else any character
        parts = [_members(value) if member is sc.RANGE else _escaped(chr(value)) for member, value in members[1:]]
        exact = all(member in (sc.LITERAL, sc.RANGE) for member, _ in members[1:]) and parts
        return (f"[^{''.join(parts)}]", None) if exact else (_ANY, None)
    ascii_members: set[int] = set()
    beyond: list[str] = []  # members past ASCII
    past_ascii = False  # every character past ASCII may match
    for member, value in members:
        if member is sc.LITERAL:
            (ascii_members.add(value) if value < 128 else beyond.append(_escaped(chr(value))))
        elif member is sc.RANGE:
            ascii_members.update(range(value[0], min(value[1], 127) + 1))
            if value[1] >= 128:
                beyond.append(_members((max(value[0], 128), value[1])))
        elif member is sc.CATEGORY and value in categories:
            known, wider = categories[value]
            ascii_members |= known
            past_ascii = past_ascii or wider
        else:
            return _ANY, None
    if past_ascii:  # written as the ASCII characters it cannot hold: cheap to compile, unlike a range to U+10FFFF
        others = sorted(set(_ASCII) - ascii_members)
        return (f"[^{_ranges(others)}]", None) if others else (_ANY, None)
    if not ascii_members and not beyond:
        return None
    return f"[{_ranges(sorted(ascii_members))}{''.join(beyond)}]", None


def _members(bounds: tuple[int, int]) -> str:
    low, high = bounds
    return f"{_escaped(chr(low))}-{_escaped(chr(high))}"


def _ranges(codes: list[int]) -> str:
    """Sorted code points as class members, runs written as ranges."""
    parts = []
    start = 0
    for index in range(1, len(codes) + 1):
        if index == len(codes) or codes[index] != codes[index - 1] + 1:
            low, high = codes[start], codes[index - 1]
            parts.append(_escaped(chr(low)) if low == high else _members((low, high)))
            start = index
    return "".join(parts)


def _windowed(segment: list[_Slot]) -> tuple[int, Lead] | None:
    """The segment's longest literal run with up to `_WINDOW` slots on each side, and its width."""
    best: tuple[int, int] | None = None
    start = None
    for index, (_, char) in enumerate([*segment, ("", None)]):
        if char is not None and start is None:
            start = index
        elif char is None and start is not None:
            if best is None or index - start > best[1] - best[0]:
                best = (start, index)
            start = None
    if best is None:
        return None
    low, high = best
    before, after = segment[max(0, low - _WINDOW) : low], segment[high : high + _WINDOW]
    literal = "".join(char or "" for _, char in segment[low:high])
    behind = f"(?<={_repeated(before)}{_escaped(literal)})" if before else ""
    rest = _escaped(literal[1:]) + behind + _repeated(after)
    return len(before) + (high - low) + len(after), (literal[0], rest)


def _repeated(slots: list[_Slot]) -> str:
    """The slots as regex source, a run of the same class written once with its count."""
    parts = []
    for source, group in itertools.groupby(source for source, _ in slots):
        count = len(list(group))
        parts.append(source if count == 1 else f"(?:{source}){{{count}}}")
    return "".join(parts)


def _escaped(text: str) -> str:
    """`text` as regex source that means the same inside a class and out."""
    return "".join(re.escape(char) if char.isascii() and char.isprintable() else f"\\U{ord(char):08x}" for char in text)
