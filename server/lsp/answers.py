"""How a request answers: a failure the user reads, and a report or page as it is sent.

Shared by the features that answer commands and custom requests, so each one
fails with the same code and masks with the same policy as the CLI.
"""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcException

from server.engine.preview import shallow
from server.engine.secrets import mask_json

REQUEST_FAILED = -32803
"""LSP's `RequestFailed`: the request was valid, and what it asked for could not be done."""

WIRE_DEPTH = 100
"""Levels of a value the server sends in a report or page."""


def failed(message: str) -> JsonRpcException:
    """A request that could not do what it was asked: the message says why, for the user."""
    return JsonRpcException(message, code=REQUEST_FAILED)


def shown(document: dict[str, Any], reveal: bool) -> dict[str, Any]:
    """A report or page as the user sees it: secrets masked unless `revealSecrets` is on (the CLI does the same).

    Values are sent to `WIRE_DEPTH` levels, deeper ones as `…`: the answer is serialized by recursion (cattrs,
    three frames a level), and JSON may nest about 1,000 levels.
    """
    masked: dict[str, Any] = document if reveal else mask_json(document)
    limited: dict[str, Any] = shallow(masked, WIRE_DEPTH)
    return limited
