"""Mask secrets in preview text: recorded inputs often carry API keys and tokens.

Previews (hovers, the normalized input, rendered outputs) are shown in editors,
screenshots and shared logs, so every secret-looking value is replaced by a
mask before any text leaves the engine. The masks keep the kind of secret
visible (`sk-…`, `Bearer …`) so the user still understands the text.
"""

from __future__ import annotations

import re

MASK = "****"

# Optional backslashes let the patterns see through JSON-escaped quotes (`\"api_key\": \"…\"`),
# as found in a message content dumped inside the canonical JSON.
_Q = r"\\*[\"']"
_NAME = (
    r"[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|secret|passw(?:or)?d|pwd|token(?!s)|authorization|auth(?!or)[A-Za-z_-]*"
    r"|credential|private[_-]?key|access[_-]?key|session[_-]?key|cookie)[A-Za-z0-9_.-]*"
)
_KEY_VALUE = re.compile(
    rf"(?P<key>(?P<kq>{_Q})?(?P<name>{_NAME})(?(kq){_Q})\s*[:=]\s*)"
    rf"(?:(?P<vq>{_Q})(?P<quoted>(?:(?!{_Q}).)*?)(?P=vq)|(?P<bare>(?:(?:Bearer|Basic|Token)\s+)?[^\s,;}}\]\"'\\]+))",
    re.IGNORECASE,
)
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


def mask_secrets(text: str) -> str:
    """`text` with API keys, bearer tokens, Authorization values and secret-named values masked."""
    text = _KEY_VALUE.sub(_mask_key_value, text)
    text = _BEARER.sub(lambda m: f"{m.group('scheme')} {MASK}", text)
    text = _TOKENS.sub(lambda m: f"{m.group('prefix')}{MASK}", text)
    return _JWT.sub(MASK, text)
