"""Normalize recorded inputs and compute replay keys under a rule set.

This is the reference semantics of SPEC §4 expressed over plain message dicts
(LangChain `messages_to_dict` entries), so no LangChain import is needed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, count
from operator import is_not
from typing import Any

import regex

from server.engine.boundary import Kind, RuleSafety, classify, leads, risky, screens
from server.engine.regex_budget import BUDGET_SECONDS, budgeted_all
from server.engine.rules import Rules, Substitution
from server.engine.volatile import Screen, VolatileMatch, detector_screen, scan

_CACHE_ENTRIES = 200_000


class InputShapeError(ValueError):
    """A recorded input that cannot be projected (the producer would have crashed too)."""


class RuleTimeoutError(InputShapeError):
    """A rule ran over its time budget on this input: the key is not computed, and the rule is named."""

    MARK = "ran over its time budget"


def shape_error(message: str) -> InputShapeError:
    """The error a stored message stands for (a summary keeps errors as their messages)."""
    return RuleTimeoutError(message) if RuleTimeoutError.MARK in message else InputShapeError(message)


_TIMED_OUT_ENTRIES = 1_000


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys of one model call, and the canonical text they were hashed from."""

    caller: str
    conversation_hash: str
    input_hash: str
    pieces: tuple[str, ...] = ()
    """The normalized messages whose join is the canonical text (empty when computed whole)."""
    whole: str | None = None
    """The canonical text, when it was computed whole rather than from pieces."""
    volatile: Mapping[str, tuple[VolatileMatch, ...]] | None = field(default=None, compare=False)
    """The volatile-looking texts (`server.engine.volatile.scan`) of every piece that holds any, when the
    normalizer found them as it normalized (`Normalizer(..., volatile=True)`): its own table, shared by all
    its keys (a piece not in it holds none)."""

    @property
    def canonical(self) -> str:
        """Joined on demand: keeping every call's canonical text would hold O(n²) bytes per session."""
        return self.whole if self.whole is not None else joined(self.pieces)


def joined(pieces: Sequence[str]) -> str:
    """The canonical text of normalized message pieces: exactly `json.dumps` of the list."""
    return "[" + ", ".join(pieces) + "]"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def content_to_text(content: Any) -> str:
    """Flatten message content the way the producer does before normalizing it."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict):
                text = block.get("text", "")
                parts.append(_as_text(text) if text else json.dumps(block, sort_keys=True, ensure_ascii=False))
            else:
                parts.append(str(block))
        return "".join(parts)
    return str(content)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise InputShapeError(f"a content block's 'text' is {type(value).__name__}, not a string")


class _Runners:
    """The rule set's patterns compiled by `regex` (`budgeted_all`), written out when a rule first has to run.

    Writing them out scans every code point for each Unicode class (~30 ms for the deerflow rules); a
    process whose texts no rule's screen passes (a check whose recordings are all cached, callers that are
    plain names) never pays it. Two threads asking at once both build the same list (`budgeted` is cached)."""

    def __init__(self, patterns: list[re.Pattern[str]]) -> None:
        self._patterns = patterns
        self._built: list[regex.Pattern[str]] | None = None

    def __getitem__(self, position: int) -> regex.Pattern[str]:
        built = self._built
        if built is None:
            built = self._built = budgeted_all(self._patterns)  # together: every code point is listed once
        return built[position]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One substitution, ready to run: its pattern, what a text needs for it to match, its second-pass class."""

    pattern: re.Pattern[str]
    """`re`'s compilation: what `server.engine.boundary` analyses."""
    runners: _Runners
    """The rule set compiled by `regex`; this rule's is at `position`. It is what runs, under the time budget,
    releasing the interpreter lock (`concurrent=True`) so a server's requests are answered while a long match
    runs in a worker thread."""
    position: int
    replacement: str
    gate: tuple[re.Pattern[str], ...]
    """What a text must hold for the pattern to match in it (`server.engine.boundary.leads`): searching
    for it is one hop from one occurrence of a literal to the next; empty when nothing is known."""
    safety: RuleSafety
    label: str

    @classmethod
    def of(cls, sub: Substitution, pattern: re.Pattern[str], runners: _Runners, position: int) -> _Compiled:
        label = f"{sub.name!r} ({sub.pattern})" if sub.name else repr(sub.pattern)
        return cls(
            pattern,
            runners,
            position,
            sub.replacement,
            screens([leads(pattern)]),
            classify(pattern, sub.replacement),
            label,
        )

    def apply(self, text: str) -> str:
        if self.gate and not any(screen.search(text) for screen in self.gate):
            return text  # no match possible: skip the scan
        try:
            runner = self.runners[self.position]
            return runner.sub(self.replacement, text, timeout=BUDGET_SECONDS, concurrent=True)
        except TimeoutError:
            raise RuleTimeoutError(
                f"rule {self.label} {RuleTimeoutError.MARK} ({BUDGET_SECONDS} s) on this input "
                f"({len(text)} characters): catastrophic backtracking? avoid nested or overlapping quantifiers"
            ) from None


class Normalizer:
    """A compiled rule set: text normalization, projection and keys.

    In a recording every call re-sends the whole history, so the same messages are
    normalized again and again. Each distinct message is projected, dumped and
    normalized once (a "piece"); a call's canonical text is its pieces joined, when
    `server.engine.boundary` proves that equal to normalizing the whole dump, and
    the full computation otherwise.
    """

    def __init__(self, rules: Rules, *, volatile: bool = False) -> None:
        self.rules = rules
        patterns = [sub.compile() for sub in rules.substitutions]
        runners = _Runners(patterns)
        self._subs = [
            _Compiled.of(sub, pattern, runners, position)
            for position, (sub, pattern) in enumerate(zip(rules.substitutions, patterns, strict=True))
        ]
        known = all(sub.gate for sub in self._subs)
        self._screens = screens([leads(sub.pattern) for sub in self._subs]) if known else None
        """What any rule needs, one search per leading character: a text holding none of it is its own
        normalization, told without a call per rule (None: some rule's needs are not known)."""
        self._volatile = volatile
        self._joint = None
        """What any rule or volatile detector needs: a message holding none of it is a finished piece with
        nothing volatile, told by one set of searches (None: not asked, or some needs are not known)."""
        self._detectors: Screen | None = detector_screen() if volatile else None
        if known and self._detectors is not None:
            self._joint = screens([*(leads(sub.pattern) for sub in self._subs), *self._detectors.leads])
        self._checked = [sub.safety for sub in self._subs if sub.safety.kind is not Kind.LOCAL]
        self._piecewise = rules.projection.second_pass and all(s.safety.kind is not Kind.UNSAFE for s in self._subs)
        self._texts: dict[str, str] = {}
        self._pieces: dict[Hashable, tuple[str | None, bool]] = {}
        self._found: dict[str, tuple[VolatileMatch, ...]] = {}
        """Pieces that hold volatile-looking text, and that text (never cleared: keys given out refer to it)."""
        self._timed_out: dict[str, RuleTimeoutError] = {}
        """Texts a rule ran over its budget on: a recording re-sends its history with every call, and each
        would spend the budget again."""

    def text(self, text: str) -> str:
        """N(s): every substitution in order; raises `RuleTimeoutError` when one runs over its time budget."""
        failed = self._timed_out.get(text)
        if failed is not None:
            raise failed
        if self._quiet(text):
            return text
        original = text
        try:
            for sub in self._subs:
                text = sub.apply(text)
        except RuleTimeoutError as exc:
            if len(self._timed_out) < _TIMED_OUT_ENTRIES:
                self._timed_out[original] = exc.with_traceback(None)  # its frames would hold every text
            raise
        return text

    def _quiet(self, text: str) -> bool:
        """True when no rule can match anywhere in `text`, so that every rule leaves it as it is."""
        if self._screens is None:
            return False
        return not any(screen.search(text) for screen in self._screens)

    def _cached_text(self, text: str) -> str:
        cached = self._texts.get(text)
        if cached is None:
            if len(self._texts) > _CACHE_ENTRIES:
                self._texts.clear()
            cached = self._texts[text] = self.text(text)
        return cached

    def caller(self, caller: Any) -> str:
        scheme = self.rules.key
        value = str(caller if caller is not None else "").strip()
        if scheme.normalize_caller:
            value = self._cached_text(value)
        if not value:
            return scheme.default_caller
        return scheme.caller_aliases.get(value, value)

    def _skipped(self, kind: str, data: dict[str, Any]) -> bool:
        options = self.rules.projection
        if kind in options.skip_types:
            return True
        extra = data.get("additional_kwargs")
        return bool(options.skip_hidden and isinstance(extra, dict) and extra.get("hide_from_ui"))

    def _entry(self, kind: str, data: dict[str, Any], position: int) -> dict[str, Any] | None:
        """One message's projection, or None when it is dropped as empty."""
        options = self.rules.projection
        content = self._cached_text(content_to_text(data.get("content", "")))
        tool_calls = data.get("tool_calls")
        if options.drop_empty and not content.strip() and not tool_calls:
            return None
        entry: dict[str, Any] = {"type": kind, "content": content}
        if tool_calls and options.tool_calls == "name-args":
            if not isinstance(tool_calls, list):
                raise InputShapeError(f"'tool_calls' of input message {position} is not a list")
            entry["tool_calls"] = [_project_tool_call(call, position) for call in tool_calls]
        name = data.get("name")
        if options.include_name and name:
            entry["name"] = name
        return entry

    def project(self, messages: Sequence[Any]) -> list[dict[str, Any]]:
        """The canonical projection of an input message list (before dumping)."""
        entries: list[dict[str, Any]] = []
        for position, message in enumerate(messages):
            kind, data = _message_parts(message, position)
            if not self._skipped(kind, data):
                entry = self._entry(kind, data, position)
                if entry is not None:
                    entries.append(entry)
        return entries

    def canonical(self, messages: Sequence[Any]) -> str:
        return self.keys(None, messages).canonical

    def _whole(self, messages: Sequence[Any]) -> str:
        """The straightforward computation: dump the whole projection, normalize it again."""
        dumped = json.dumps(self.project(messages), sort_keys=True, ensure_ascii=False)
        return self.text(dumped) if self.rules.projection.second_pass else dumped

    def _normalized_pieces(self, messages: Sequence[Any]) -> list[str] | None:
        """Each kept message's normalized JSON object, or None when joining them is not proven exact."""
        pieces: list[str] = []
        for position, message in enumerate(messages):
            kind, data = _message_parts(message, position)
            if self._skipped(kind, data):
                continue
            piece, uncertain = self._cached_piece(kind, data, position)
            if uncertain:
                return None
            if piece is not None:
                pieces.append(piece)
        return pieces or None

    def _cached_piece(self, kind: str, data: dict[str, Any], position: int) -> tuple[str | None, bool]:
        key = _piece_key(kind, data)
        cached = self._pieces.get(key)
        if cached is None:
            if len(self._pieces) > _CACHE_ENTRIES:
                self._pieces.clear()
            cached = self._pieces[key] = self._piece(kind, data, position)
        return cached

    def _piece(self, kind: str, data: dict[str, Any], position: int) -> tuple[str | None, bool]:
        """The message's piece, and (when asked) the volatile scan folded in: a message in which neither a rule
        nor a detector finds what it needs (most of them) is done after one set of searches."""
        entry = self._entry(kind, data, position)
        if entry is None:
            return None, False
        text = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        if self._untouched(text):
            return text, self._uncertain(text)
        piece, uncertain = self._second_pass(text)
        if self._volatile and not uncertain and (found := scan(piece)):
            self._found[piece] = found
        return piece, uncertain

    def _untouched(self, text: str) -> bool:
        """True when neither a rule nor a volatile detector finds in `text` what it needs (False: not known)."""
        if self._joint is None or self._detectors is None:
            return False
        return not any(search.search(text) for search in self._joint) and not self._detectors.hex_found(text)

    def _second_pass(self, text: str) -> tuple[str, bool]:
        """The dumped message normalized again, and whether joining it with others is uncertain."""
        if self._quiet(text):  # the second pass cannot change it: only whether joining pieces is exact is left
            return text, self._uncertain(text)
        for sub in self._subs:
            if risky(sub.safety, text):
                return text, True
            if sub.safety.kind is not Kind.GATED:  # a gated rule that is not risky has none of its literals here
                text = sub.apply(text)
        return text, False

    def _uncertain(self, text: str) -> bool:
        """What the second pass's loop in `_piece` finds of `text` when no rule changes it: risky for a rule."""
        if not self._subs:
            return False
        if not (text.startswith("{") and text.endswith("}")):
            return True  # what `risky` says first, for every class
        return any(risky(safety, text) for safety in self._checked)

    def input_key(self, caller: str, conversation_hash: str) -> str:
        """The caller-aware key of a normalized caller and a conversation hash."""
        if not self.rules.key.caller_aware:
            return conversation_hash
        payload = json.dumps(
            {"caller": caller, "conversation_hash": conversation_hash}, sort_keys=True, ensure_ascii=False
        )
        return sha256_hex(payload)

    def keys(self, caller: Any, messages: Sequence[Any]) -> Keys:
        normalized_caller = self.caller(caller)
        found = self._normalized_pieces(messages) if self._piecewise else None
        if found is None:
            whole = self._whole(messages)
            input_hash = self.input_key(normalized_caller, conversation_hash := sha256_hex(whole))
            return Keys(normalized_caller, conversation_hash, input_hash, (), whole)
        conversation_hash = sha256_hex(joined(found))
        input_hash = self.input_key(normalized_caller, conversation_hash)
        return Keys(normalized_caller, conversation_hash, input_hash, tuple(found), None, self._found_table())

    def _found_table(self) -> Mapping[str, tuple[VolatileMatch, ...]] | None:
        return self._found if self._volatile else None


@dataclass(slots=True)
class _Chain:
    """Hashing state along one call's input, for a later call that re-sends the same messages."""

    messages: list[Any]
    kept: list[int]  # kept pieces before message i; one more entry than messages
    states: list[Any]  # sha256 of "[" and those pieces, before message i
    pieces: list[str]


class KeyChain:
    """Keys of a recording's calls in order, reusing the history each call re-sends.

    When a call's input starts with the very message objects of an earlier call
    (the recording reader shares them), the hash state after that shared prefix is
    copied instead of recomputed, so a session of n calls costs O(n) normalizing
    and hashing instead of O(n²).
    """

    def __init__(self, normalizer: Normalizer, width: int = 4) -> None:
        self.normalizer = normalizer
        self.width = width
        self.chains: list[_Chain] = []

    def keys(self, caller: Any, messages: Sequence[Any]) -> Keys:
        normalizer = self.normalizer
        if not normalizer._piecewise:
            return normalizer.keys(caller, messages)
        normalized_caller = normalizer.caller(caller)  # first, as `Normalizer.keys`: a bad caller is the error
        chain, shared = self._longest_shared(messages)
        kept = chain.kept[: shared + 1] if chain else [0]
        states = chain.states[: shared + 1] if chain else [hashlib.sha256(b"[")]
        pieces = chain.pieces[: kept[-1]] if chain else []
        for position in range(shared, len(messages)):
            kind, data = _message_parts(messages[position], position)
            state = states[-1]
            if not normalizer._skipped(kind, data):
                piece, uncertain = normalizer._cached_piece(kind, data, position)
                if uncertain:
                    return normalizer.keys(caller, messages)
                if piece is not None:
                    state = state.copy()
                    state.update(((", " if pieces else "") + piece).encode("utf-8", errors="surrogatepass"))
                    pieces.append(piece)
            states.append(state)
            kept.append(len(pieces))
        if not pieces:
            return normalizer.keys(caller, messages)
        self._remember(_Chain(list(messages), kept, states, pieces))
        final = states[-1].copy()
        final.update(b"]")
        conversation_hash = final.hexdigest()
        input_hash = normalizer.input_key(normalized_caller, conversation_hash)
        return Keys(normalized_caller, conversation_hash, input_hash, tuple(pieces), None, normalizer._found_table())

    def _longest_shared(self, messages: Sequence[Any]) -> tuple[_Chain | None, int]:
        """The remembered chain sharing the longest prefix of message objects (the most recent of equals).

        The first differing position is found in C (`map` of `is not`, `compress`, stopping there): a
        deep history compares thousands of messages per call, which a Python loop made the cost of a call."""
        best: _Chain | None = None
        best_length = 0
        for chain in self.chains:
            if (
                min(len(chain.messages), len(messages)) <= best_length
                or chain.messages[best_length] is not (messages[best_length])
            ):
                continue  # cannot share more than the best so far
            differs = next(compress(count(), map(is_not, chain.messages, messages)), None)
            length = min(len(chain.messages), len(messages)) if differs is None else differs
            if length > best_length:
                best, best_length = chain, length
        return best, best_length

    def _remember(self, chain: _Chain) -> None:
        self.chains.insert(0, chain)
        del self.chains[self.width :]


def _message_parts(message: Any, position: int) -> tuple[str, dict[str, Any]]:
    """(type, data) of a `messages_to_dict` entry; a flat message dict is accepted too."""
    if not isinstance(message, dict):
        raise InputShapeError(f"input message {position} is {type(message).__name__}, not an object")
    data = message.get("data")
    if isinstance(data, dict):
        kind = message.get("type", data.get("type"))
    else:
        data, kind = message, message.get("type")
    if not isinstance(kind, str):
        raise InputShapeError(f"input message {position} has no string 'type'")
    return kind, data


def _project_tool_call(call: Any, position: int) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise InputShapeError(f"a tool call of input message {position} is not an object")
    return {"name": call.get("name"), "args": call.get("args")}


HEX64 = re.compile(r"[0-9a-f]{64}")


def _piece_key(kind: str, data: dict[str, Any]) -> Hashable:
    """What a message's piece depends on, cheap to hash (the content string itself when it is one).

    `repr` of parsed JSON data is injective, and cheaper than a dump; a key-order
    difference only costs a cache miss.
    """
    content = data.get("content", "")
    calls = data.get("tool_calls")
    name = data.get("name")
    return (
        kind,
        content if isinstance(content, str) else ("repr", repr(content)),
        repr(calls) if calls else None,
        name if isinstance(name, str) or name is None else ("repr", repr(name)),
    )
