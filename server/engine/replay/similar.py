"""`difflib`'s similarity ratio of two rendered inputs, exactly, without its quadratic cost on deep histories.

`SequenceMatcher(None, a, b, autojunk=False).ratio()` looks for the longest
matching block by visiting, for every line of `a`, every equal line of `b`: a
deep history repeats its header lines (`[ai]`, `[tool] name=read_file`) thousands
of times, so one ratio of two 6,000-line inputs took seconds. `ratio` here gives
the same number: it runs the same recursion (longest block, then left and right
of it), but finds a block of `GRAM` lines or more among runs of `GRAM` lines,
which a history hardly repeats; only a range whose longest block is shorter is
searched line by line, as difflib does (a deep miss's differing window).

`quick_ratio` and `real_quick_ratio` are difflib's upper bounds of the ratio,
computed the same way (same numbers), for ranking many inputs before scoring few.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from difflib import SequenceMatcher
from itertools import compress, count
from operator import ne
from typing import Any

GRAM = 4
"""Lines per run when searching long blocks (any length gives the same result; this one is fast)."""


def _ratio(matches: int, length: int) -> float:
    """difflib's `_calculate_ratio`: the same float for the same counts."""
    return 2.0 * matches / length if length else 1.0


def real_quick_ratio(first: Sequence[Hashable], second: Sequence[Hashable]) -> float:
    """An upper bound of `quick_ratio` from the lengths alone (difflib's `real_quick_ratio`)."""
    return _ratio(min(len(first), len(second)), len(first) + len(second))


def quick_ratio(first: Counter[Hashable], first_length: int, second: Sequence[Hashable]) -> float:
    """An upper bound of `ratio` (difflib's `quick_ratio`): the lines the two have in common, in any order.

    `first` is counted once by the caller, who compares it with many."""
    common = first & Counter(second)
    return _ratio(sum(common.values()), first_length + len(second))


def shortlist(
    lines: Sequence[Hashable],
    candidates: Iterable[int],
    size: int,
    length: Callable[[int], int],
    lines_of: Callable[[int], Sequence[Hashable]],
    rank: Callable[[int, float], tuple[Any, ...]],
) -> list[int]:
    """The `size` candidates of highest `rank(candidate, quick_ratio(lines, lines_of(candidate)))`, best first
    (a score of 0.0 for all when `lines` is empty); `rank` must order candidates strictly, ties broken in it.

    The same list as ranking every candidate, without each one's `quick_ratio`: candidates are visited by an
    upper bound of it from their `length` alone (`real_quick_ratio`), and the visit stops when no candidate
    left can rank above the `size`-th found: a deep history's miss scores a few turns near its length."""
    counted = Counter(lines)

    def bound(candidate: int) -> tuple[Any, ...]:
        return rank(candidate, real_quick_ratio(lines, range(length(candidate))) if lines else 0.0)

    best: list[tuple[tuple[Any, ...], int]] = []
    bounded = sorted(((each, bound(each)) for each in candidates), key=lambda item: item[1], reverse=True)
    for candidate, upper in bounded:
        if len(best) == size and best[-1][0] > upper:
            break  # every candidate left ranks at most `upper`
        score = quick_ratio(counted, len(lines), lines_of(candidate)) if lines else 0.0
        best.append((rank(candidate, score), candidate))
        best.sort(reverse=True)
        del best[size:]
    return [candidate for _, candidate in best]


def ratio(first: Sequence[Hashable], second: Sequence[Hashable]) -> float:
    """`SequenceMatcher(None, first, second, autojunk=False).ratio()`, the same float."""
    return Ratios(first).ratio(second)


class Ratios:
    """`ratio(first, second)` for one `first` and many `second`s: `first`'s runs are listed once."""

    def __init__(self, first: Sequence[Hashable]) -> None:
        self.first = list(first)
        self.ids: dict[tuple[Hashable, ...], int] = {}
        self.fresh = count()  # a new run takes the next number: equal runs, equal ids
        self.runs = self._runs(self.first)
        self.unique = len(set(self.runs)) == len(self.runs)

    def _runs(self, lines: list[Hashable]) -> list[int]:
        """Each run of GRAM lines as an id, in C (`zip` of shifted slices, `setdefault` through `map`)."""
        runs = zip(*(lines[shift:] for shift in range(GRAM)), strict=False)  # the shorter slices end it
        return list(map(self.ids.setdefault, runs, self.fresh))

    def ratio(self, second: Sequence[Hashable]) -> float:
        other = list(second)
        runs = self._runs(other)
        matches = self._around_window(other, runs)
        if matches is None:
            matches = _Matcher(self.first, other, SequenceMatcher(None, self.runs, runs, autojunk=False)).matches()
        return _ratio(matches, len(self.first) + len(other))

    def _around_window(self, other: list[Hashable], runs: list[int]) -> int | None:
        """The matches when difflib's first blocks are provably the common prefix and/or suffix (None: not proved).

        Deep inputs share all but a small window. When every run of GRAM lines occurs once in each input, a
        block holding a run of the prefix (suffix) pairs it with its one place in the other input: it is the
        prefix (suffix). Any other block has no such run, so it lies within the rest and GRAM - 1 lines beside
        it. A prefix (suffix) longer than that is difflib's first block (the prefix wins a tie at (0, 0)), and
        its recursion goes on in the rest alone, searched here as difflib would."""
        first = self.first
        limit = min(len(first), len(other))
        prefix = next(compress(count(), map(ne, first, other)), limit)
        suffix = min(next(compress(count(), map(ne, reversed(first), reversed(other))), limit), limit - prefix)
        end_first, end_other = len(first) - suffix, len(other) - suffix
        if not (prefix or suffix) or end_first <= prefix or end_other <= prefix:
            return None  # nothing shared, or a window is empty (the suffix may then extend into the prefix)
        if not self.unique or len(set(runs)) != len(runs):
            return None
        beside = 2 * (GRAM - 1)
        window = end_first - prefix
        if prefix > window + beside and suffix > window + beside:
            return prefix + suffix + self._exact(first[prefix:end_first], other[prefix:end_other])
        if suffix > end_first + beside:  # the prefix is part of the rest
            return suffix + self._exact(first[:end_first], other[:end_other])
        if prefix > len(first) - prefix + beside:  # the suffix is part of the rest
            return prefix + self._exact(first[prefix:], other[prefix:])
        return None

    def _exact(self, first: list[Hashable], other: list[Hashable]) -> int:
        grams = SequenceMatcher(None, self._runs(first), self._runs(other), autojunk=False)
        return _Matcher(first, other, grams).matches()


class _Matcher:
    def __init__(self, first: list[Hashable], second: list[Hashable], grams: SequenceMatcher[int]) -> None:
        self.a = first
        self.b = second
        self.grams = grams  # the two inputs' runs of GRAM lines, as ids

    def matches(self) -> int:
        """The total size of difflib's matching blocks (the recursion of `get_matching_blocks`)."""
        total = 0
        queue = [(0, len(self.a), 0, len(self.b))]
        while queue:
            alo, ahi, blo, bhi = queue.pop()
            i, j, size = self.longest(alo, ahi, blo, bhi)
            if size:
                total += size
                if alo < i and blo < j:
                    queue.append((alo, i, blo, j))
                if i + size < ahi and j + size < bhi:
                    queue.append((i + size, ahi, j + size, bhi))
        return total

    def longest(self, alo: int, ahi: int, blo: int, bhi: int) -> tuple[int, int, int]:
        """difflib's `find_longest_match` without junk: the longest block, the first in `a` then in `b`.

        A block of GRAM lines or more is a block of runs, at the same places, GRAM - 1 runs shorter,
        so the longest block of runs (first in `a`, then in `b`) is the longest block when one is found."""
        if ahi - alo >= GRAM and bhi - blo >= GRAM:
            i, j, size = self.grams.find_longest_match(alo, ahi - GRAM + 1, blo, bhi - GRAM + 1)
            if size:
                return i, j, size + GRAM - 1
        window = SequenceMatcher(None, self.a[alo:ahi], self.b[blo:bhi], autojunk=False)
        i, j, size = window.find_longest_match(0, ahi - alo, 0, bhi - blo)
        return alo + i, blo + j, size
