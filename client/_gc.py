"""Pausing the cyclic garbage collector while many long-lived, acyclic objects are built.

Decoding a 100,000-task inbox makes millions of dicts, lists and strings that all stay alive;
every few hundred allocations the collector would rescan them, and the full passes alone cost
more than the decoding. They hold no cycles, so pausing is safe: reference counting frees them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the collector for the block; nested and concurrent uses resume it once, at the end.

    The collector is resumed only if it was running when the first pause began, so a program that
    disabled it for its own reasons keeps it disabled.
    """
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
