"""A page of steps as every surface shows it: the CLI's `steps --format json` and the editor's `replayLens/steps`.

The masking policy lives here once, so the two adapters cannot drift apart:
each step's summary is masked before it is cut to its width (cut first, half a
token would be left that no pattern knows).
"""

from __future__ import annotations

import sys
from typing import Any

from server.engine.secrets import masked_cut
from server.engine.sessions.model import StepPage

SUMMARY_WIDTH = 80
"""Width of a step's summary in JSON (`Step.to_json`'s)."""


def page_json(page: StepPage, reveal: bool) -> dict[str, Any]:
    """The page as JSON; without `reveal`, each step's summary is masked before it is cut to its width."""
    document = page.to_json()
    if not reveal:
        for entry, step in zip(document["steps"], page.steps, strict=True):
            entry["summary"] = masked_cut(step.summary(sys.maxsize), SUMMARY_WIDTH)
    return document
