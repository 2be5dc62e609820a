"""Let the memory of freed large texts go back to the system, so the server's RSS follows its open documents.

Each edit of a 20 MB fixture allocates a new text and frees the old one. glibc
raises its mmap threshold to the size of every large block freed, so after the
first edits such texts come from the heap, whose freed space is rarely given
back: RSS kept 80 MB it no longer used. A fixed threshold keeps large blocks
mapped on their own and unmapped when freed. Elsewhere than glibc, nothing
changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 20


def release_large_blocks() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fixed = libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)
    except (OSError, AttributeError) as exc:  # not glibc (musl has no mallopt)
        log.debug("mmap threshold unchanged: %s", exc)
        return
    log.debug("mmap threshold fixed at %d bytes: %s", _THRESHOLD, "yes" if fixed == 1 else "no")
