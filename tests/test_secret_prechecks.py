"""`mask_secrets`' literal pre-checks never change what it masks (issue 17, item 3).

Each pattern of `MASK_STEPS` runs only where its pre-check (a few substring
tests) says it may match. The reference here runs every pattern on every text;
the outputs must be identical, on generated text, on the engine's own messages,
and on every secret shape the module knows, written in every case the patterns
accept (including the non-ASCII letters their IGNORECASE folds to ASCII: a long
s in `secret`, a Kelvin sign in `key`, a dotless i in `credential`).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.secrets import MASK_STEPS, mask_json, mask_secrets


def reference(text: str) -> str:
    """Every pattern, in order, on every text: masking without any pre-check."""
    for step in MASK_STEPS:
        text = step.pattern.sub(step.replace, text)
    return text


_TOKEN_PREFIXES = [
    *("sk-", "sk-proj-", "sk-ant-", "sk-ant-api03-", "sk-live-", "sk-test-", "rk-live-", "pk-live-"),
    *("sk_live_", "sk_test_", "rk_live_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"),
    *("xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "AKIA", "ASIA", "AIza", "hf_", "npm_", "pypi-"),
]
"""Every prefix `_TOKENS` knows, spelled out."""
_NAMES = [
    *("api_key", "api-key", "apikey", "secret", "client_secret", "password", "passwd", "pwd", "token"),
    *("access_token", "authorization", "auth", "x-auth", "credential", "credentials", "private_key"),
    *("private-key", "access_key", "session_key", "cookie", "set-cookie", "x-api-key"),
]
"""Names `_KEY_VALUE` takes for a secret's (one per alternative of its word list, and a few real headers)."""
_NOT_NAMES = ["token_usage", "max_tokens", "author", "secrets.jsonl", "keys", "monkey", "tokenizer"]
_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
_VALUE = "Zq3vN8xL2pR7tY5wK9mB4cD6"
_FOLDS = {"i": ["\u0130", "\u0131"], "s": ["\u017f"], "k": ["\u212a"]}
"""The non-ASCII letters the patterns' IGNORECASE matches to an ASCII one."""


def _shapes(name: str) -> list[str]:
    return [
        f"{name}={_VALUE}",
        f"{name}: {_VALUE}",
        f'"{name}": "{_VALUE}"',
        f"'{name}' = '{_VALUE}'",
        f'\\"{name}\\": \\"{_VALUE}\\"',
        f"{name}: Bearer {_VALUE}",
        f"args.{name}: expected 'old-{_VALUE}', got 'new'",
        f"args.{name}: missing (expected '{_VALUE}')",
        f"args.{name}: not expected (got {_VALUE})",
    ]


SECRETS = [
    *(shape for name in _NAMES for shape in _shapes(name)),
    *(f"{prefix}{_VALUE}" for prefix in _TOKEN_PREFIXES),
    *(f"{scheme} {_VALUE}" for scheme in ("Bearer", "bearer", "Basic", "BASIC", "Token", "token")),
    _JWT,
    f"Authorization: Bearer {_JWT}",
]
"""Every secret shape the module knows: each is masked (checked below), so the equality tests are not vacuous."""
ENGINE_MESSAGES = [
    "turn 7: no recording links to this key, so it cannot be recomputed",
    "input_hash 0123456789ab… is not the key of caller 'lead_agent' and its conversation_hash (expected 0123…)",
    "stale key in turn 3: input_hash 0123456789ab… → 3210fedcba98… under current rules (from a.jsonl:4)",
    "turn 2 has the same key as turn 1: replay hands them out in FIFO order",
    "legacy turn 0: a bare conversation hash with no caller, found only through the legacy fallback",
    "recorded call 4 (lead_agent) is held by no fixture turn: its replay would miss",
    "UUID '0f8fad5b-d9cb-469f-a165-70867728950e' survived normalization; suggested rule: x → y",
]


def _respelled(text: str, choices: list[int]) -> str:
    """`text` with some letters swapped for another case, or for a non-ASCII letter that folds to them."""
    out = []
    for position, character in enumerate(text):
        choice = choices[position % len(choices)] if choices else 0
        variants = [character, character.swapcase(), *_FOLDS.get(character.lower(), [])]
        out.append(variants[choice % len(variants)])
    return "".join(out)


@pytest.mark.parametrize("text", SECRETS + ENGINE_MESSAGES)
def test_every_known_shape_and_engine_message_masks_as_without_prechecks(text: str) -> None:
    assert mask_secrets(text) == reference(text)


@pytest.mark.parametrize("secret", SECRETS)
def test_every_known_shape_is_masked(secret: str) -> None:
    assert mask_secrets(secret) != secret
    assert _VALUE not in mask_secrets(secret) or secret.startswith("args.")  # a difference keeps no value...
    assert "old-" not in mask_secrets(secret)  # ...of either side


@pytest.mark.parametrize("name", _NAMES + _NOT_NAMES)
def test_names_in_folded_letters_mask_as_without_prechecks(name: str) -> None:
    for shape in _shapes(name):
        for swap in range(1, 4):
            respelled = _respelled(shape, [swap, 0, 2, 1])
            assert mask_secrets(respelled) == reference(respelled), respelled


_ALPHABET = "aeikostwy:=\"'\\ -_.,;{}[]\n\tABeyJ\u0130\u0131\u017f\u212a" + "0123456789"
_PIECES = st.sampled_from(SECRETS + ENGINE_MESSAGES + _NAMES + _NOT_NAMES + _TOKEN_PREFIXES + [":", "=", " ", "\\"])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=80))
def test_generated_text_masks_as_without_prechecks(text: str) -> None:
    assert mask_secrets(text) == reference(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_PIECES, st.text(alphabet=_ALPHABET, max_size=6)), max_size=8), st.lists(st.integers(0, 3)))
def test_secrets_mixed_with_noise_mask_as_without_prechecks(pieces: list[tuple[str, str]], choices: list[int]) -> None:
    text = "".join(piece + noise for piece, noise in pieces)
    for candidate in (text, _respelled(text, choices)):
        assert mask_secrets(candidate) == reference(candidate)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_unicode_masks_as_without_prechecks(text: str) -> None:
    assert mask_secrets(text) == reference(text)


def test_the_fold_list_is_every_non_ascii_letter_the_patterns_take_for_an_ascii_one() -> None:
    """If a Python release makes IGNORECASE fold another letter to ASCII, the pre-checks must learn it."""
    folds = {}
    letters = re.compile("[a-z]", re.IGNORECASE)
    for code in range(128, 0x110000):
        character = chr(code)
        if letters.fullmatch(character):
            folds[character] = next(a for a in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(a, character, re.I))
    assert folds == {fold: ascii_letter for ascii_letter, found in _FOLDS.items() for fold in found}


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*_NAMES, *_NOT_NAMES, "turn", "path", "missing"]), _SCALAR))
def test_data_of_numbers_is_kept_under_any_name(data: dict[str, object]) -> None:
    """`mask_json`'s shortcut for a finding's data that holds no text: a copy, equal to the whole walk's."""
    masked = mask_json(data)
    assert masked == data and masked is not data
    assert mask_json([data]) == [data]  # the same data one level down takes the walk
