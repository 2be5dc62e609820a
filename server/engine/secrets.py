"""Mask secrets in preview text: recorded inputs often carry API keys and tokens.

Previews (hovers, the normalized input, rendered outputs) are shown in editors,
screenshots and shared logs, so every secret-looking value is replaced by a
mask before any text leaves the engine. The masks keep the kind of secret
visible (`sk-…`, `Bearer …`) so the user still understands the text.
`mask_json` does the same to a JSON document (reports, step pages) without
breaking it, and `masked_finding` to a finding's message and data, for any report
of findings (diagnostics, `check`): a text it quotes from its file is masked when
it is a secret where it stands there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.engine.findings import Finding
    from server.engine.source import SourceText, Span

MASK = "****"

# Optional backslashes let the patterns see through JSON-escaped quotes (`\"api_key\": \"…\"`),
# as found in a message content dumped inside the canonical JSON.
_Q = r"\\*[\"']"
_WORD = (
    r"(?:api[_-]?key|apikey|secret|passw(?:or)?d|pwd|token(?!s|_usage|_count)|authorization|auth(?!or)"
    r"|credential|private[_-]?key|access[_-]?key|session[_-]?key|cookie)"
)
"""What makes a name a secret's (`token_usage`, `max_tokens` and `author` are not)."""
_NAME = (
    # A name is a whole run of name characters (taken possessively: backtracking into it is O(n²) on
    # `tokentoken…`) holding a secret word somewhere (a lazy lookahead, linear in the run).
    rf"(?<![A-Za-z0-9_.-])(?=[A-Za-z0-9_.-]*?{_WORD})[A-Za-z0-9_.-]++"
    # ... but not a file name: `secrets.jsonl:3` is a place, not a key and its value.
    + "".join(rf"(?<!\.{extension})" for extension in ("json", "jsonl", "zst", "toml", "py", "txt", "md", "log", "db"))
)
_KEY_VALUE = re.compile(
    rf"(?P<key>(?P<kq>{_Q})?(?P<name>{_NAME})(?(kq){_Q})\s*[:=]\s*)"
    rf"(?:(?P<vq>{_Q})(?P<quoted>(?:(?!{_Q}).)*?)(?P=vq)|(?P<bare>(?:(?:Bearer|Basic|Token)\s+)?[^\s,;{{}}\[\]\"'\\][^\s,;}}\]\"'\\]*))",
    re.IGNORECASE,
)
_REPR = r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,;)\s]+)"
"""A value as `repr` shows it in a replay's tool-call difference (strings quoted, anything else up to a comma)."""
_DIFFERENCE = re.compile(
    rf"(?P<name>{_NAME}): (?:expected {_REPR}, got {_REPR}|missing \(expected {_REPR}\)|not expected \(got {_REPR}\))",
    re.IGNORECASE,
)
"""`args.password: expected 'old', got 'new'`: both values are the secret's."""
_BEARER = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
_TOKENS = re.compile(
    r"\b(?P<prefix>sk-(?:proj-|ant-(?:api\d\d-)?|live-|test-)?|rk-live-|pk-live-|sk_live_|sk_test_|rk_live_"
    r"|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|xox[abprs]-|AKIA|ASIA|AIza|hf_|npm_|pypi-)"
    r"(?P<value>[A-Za-z0-9_-]{12,})"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def _mask_key_value(match: re.Match[str]) -> str:
    if match.group("quoted") is not None:
        quote = match.group("vq")
        value = match.group("quoted")
        return f"{match.group('key')}{quote}{_masked(value)}{quote}"
    return f"{match.group('key')}{_masked(match.group('bare'))}"


def _masked(value: str) -> str:
    """A mask for a whole value; an auth scheme (`Bearer …`) stays readable."""
    scheme = re.match(r"(Bearer|Basic|Token)\s+", value, re.IGNORECASE)
    if not value or value == MASK:
        return value
    return f"{scheme.group(0)}{MASK}" if scheme else MASK


_NAME_WORDS = ("key", "secret", "passw", "pwd", "token", "auth", "credential", "cookie")
"""A word every secret-like name contains (each of `_WORD`'s alternatives holds one)."""
_SCHEMES = ("bearer", "basic", "token")
_TOKEN_PREFIXES = (
    *("sk-", "rk-live-", "pk-live-", "sk_live_", "sk_test_", "rk_live_"),
    *("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "AKIA", "ASIA", "AIza"),
    *("hf_", "npm_", "pypi-"),
)
"""Literals `_TOKENS` starts with (it is case-sensitive): a text holding none has no token to mask."""
_FOLDED_LETTERS = "\u0130\u0131\u017f\u212a"
_FOLD = str.maketrans(dict(zip(_FOLDED_LETTERS, "iisk", strict=True)))
"""The only characters besides ASCII letters that the patterns' IGNORECASE matches to an ASCII letter
(dotted and dotless i, the long s, the Kelvin sign): without folding them, `str.lower` alone would miss a
`secret` spelled with a long s, which the patterns mask."""


def _folded(text: str) -> str:
    """`text` as the case-insensitive patterns see its ASCII letters: lowercase, and `_FOLD`'s characters folded."""
    if not text.isascii() and any(character in text for character in _FOLDED_LETTERS):
        text = text.translate(_FOLD)
    return text.lower()


def _may_name_a_secret(folded: str) -> bool:
    """Whether `_KEY_VALUE` (or `_DIFFERENCE`) may match: both need a secret word, then a `:` or `=` after it."""
    first = min((at for word in _NAME_WORDS if (at := folded.find(word)) >= 0), default=-1)
    return first >= 0 and (folded.find(":", first) >= 0 or folded.find("=", first) >= 0)


@dataclass(frozen=True, slots=True)
class MaskStep:
    """One pattern of `mask_secrets`, its replacement, and a cheap literal pre-check (of the text and its
    `_folded` form) that is False only where the pattern cannot match: most texts (the engine's own messages)
    hold no secret, and the pre-checks spare them every regex scan."""

    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]
    may_match: Callable[[str, str], bool]


MASK_STEPS = (
    MaskStep(
        _DIFFERENCE,
        lambda m: f"{m.group('name')} differs ({MASK})",
        lambda _, folded: "expected" in folded and _may_name_a_secret(folded),
    ),
    MaskStep(_KEY_VALUE, _mask_key_value, lambda _, folded: _may_name_a_secret(folded)),
    MaskStep(
        _BEARER,
        lambda m: f"{m.group('scheme')} {MASK}",
        lambda _, folded: any(scheme in folded for scheme in _SCHEMES),
    ),
    MaskStep(
        _TOKENS,
        lambda m: f"{m.group('prefix')}{MASK}",
        lambda text, _: any(prefix in text for prefix in _TOKEN_PREFIXES),
    ),
    MaskStep(_JWT, lambda _: MASK, lambda text, _: "eyJ" in text),
)
"""`mask_secrets`' patterns, in the order they apply (a later one sees what an earlier one masked)."""


def mask_secrets(text: str) -> str:
    """`text` with API keys, bearer tokens, Authorization values and secret-named values masked."""
    folded: str | None = None
    for step in MASK_STEPS:
        if folded is None:
            folded = _folded(text)
        if step.may_match(text, folded):
            text, count = step.pattern.subn(step.replace, text)
            if count:
                folded = None  # each pre-check sees the text as the earlier steps left it
    return text


_SECRET_KEY = re.compile(_NAME, re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    """Whether a key (or the last part of a path) names a secret: data use few names, over and over."""
    return bool(_SECRET_KEY.fullmatch(name))


def mask_json(value: Any) -> Any:
    """A copy of a JSON value with its secrets masked: every string as in `mask_secrets`, and every string
    held under a key named like a secret (`api_key`, `Authorization`, `credentials`: …) masked whole.

    Walked with a stack of its own, not by recursion: a value nested as deep as
    the JSON parser allows (about 1,000 levels) is masked like any other.
    """
    if isinstance(value, dict) and not any(isinstance(child, str | list | dict) for child in value.values()):
        return dict(value)  # numbers, booleans and nulls stay as they are under any key (a finding's `turn`)
    top: list[Any] = [None]
    pending: list[tuple[Any, bool, Any, Any]] = [(value, False, top, 0)]  # (value, masked whole, into, at)
    seen: dict[str, str] = {}  # a report repeats its strings (a replay's 44,000 are 14,000 distinct)
    while pending:
        item, whole, into, at = pending.pop()
        if isinstance(item, str):
            if whole:
                into[at] = _masked(item)
            else:
                found = seen.get(item)
                into[at] = found if found is not None else seen.setdefault(item, mask_secrets(item))
        elif isinstance(item, list):
            into[at] = copy = [None] * len(item)
            pending.extend((child, whole, copy, position) for position, child in enumerate(item))
        elif isinstance(item, dict):
            into[at] = mapping = dict.fromkeys(item)
            path = item.get("path")
            difference = not whole and isinstance(path, str) and _secret_name(path.rsplit(".", 1)[-1])
            for key, child in item.items():
                if difference and key in ("path", "missing"):  # a difference in `password`: only its values
                    mapping[key] = child
                    continue
                secret = whole or difference or (isinstance(key, str) and _secret_name(key))
                pending.append((child, secret, mapping, key))
        else:
            into[at] = item
    return top[0]


def masked_cut(text: str, width: int) -> str:
    """`text` masked, then cut to `width` characters: cut first, half a token is left that no pattern knows."""
    text = mask_secrets(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def hidden_in(text: str, context: str) -> bool:
    """Whether `text`, quoted from `context` (say, by a finding), is a secret there: masking the context hides it."""
    return bool(text) and text in context and text not in mask_secrets(context)


_CONTEXT = 2000
"""How far around a quoted text to look for the key that makes it a secret (its key is right before it)."""


def masked_finding(
    finding: Finding, source: SourceText | None, context: str | None = None
) -> tuple[str, dict[str, Any]]:
    """A finding's message and data with secrets masked.

    Besides what `mask_secrets` and `mask_json` mask, a text the finding quotes
    from its file (`data.text`, say a volatile id) is masked when it is a secret
    where it stands there: a 32-hex API key reads like any id, only the file says
    it is the value of `x-api-key`.
    """
    message, data = _masked_message(finding.message), mask_json(finding.data)
    quoted = finding.data.get("text")
    if not isinstance(quoted, str):  # most findings quote nothing: their file's text is not looked at
        return message, data
    if context is None and source is not None:
        context = finding_context(source, finding.span)
    if context is not None and _hidden(quoted, context):
        message, data["text"] = message.replace(quoted, MASK), MASK
    return message, data


def finding_context(source: SourceText, span: Span) -> str:
    """The line around `span`, at most `_CONTEXT` characters each side (recording lines can be megabytes)."""
    text = source.text
    low = max(0, span.start - _CONTEXT)
    newline = text.rfind("\n", low, span.start)
    end = text.find("\n", span.end, span.end + _CONTEXT)
    return text[newline + 1 if newline >= 0 else low : end if end >= 0 else span.end + _CONTEXT]


@functools.lru_cache(maxsize=1024)
def _hidden(quoted: str, context: str) -> bool:
    return hidden_in(quoted, context)


@functools.lru_cache(maxsize=8192)
def _masked_message(message: str) -> str:
    """Messages come back unchanged check after check: each is masked once."""
    return mask_secrets(message)
