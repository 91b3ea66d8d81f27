"""Keeping the garbage collector away from a big inbox.

A 100,000-task listing is about 2.7 million objects. Left to the cyclic collector, each changed
refresh would later cost a full collection: 0.5–1.4 s with the GIL held, i.e. a frozen UI at a
random moment. The listing's objects are acyclic JSON (reference counting frees them), so once a
big listing is in, everything alive is moved to the collector's permanent generation, which it
never scans. Collecting the young generations just before each poll keeps what gets frozen
along with it down to the few objects made during one refresh.
"""

from __future__ import annotations

import gc

# Listings below this are not worth it: their collections take a few milliseconds.
FREEZE_FROM_TASKS = 2000


def before_poll() -> None:
    """Collect the garbage made since the last freeze (young generations: milliseconds)."""
    if gc.get_freeze_count():
        gc.collect(1)


def after_listing(tasks: int) -> None:
    """Move a big listing (and everything else alive) out of the collector's reach."""
    if tasks >= FREEZE_FROM_TASKS:
        gc.freeze()
