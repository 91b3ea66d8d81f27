"""How the console process tunes the interpreter for a big inbox: garbage collection and threads.

Garbage collection. A 100,000-task listing is about 2.7 million objects. Left to the cyclic
collector, the objects of each new listing are scanned by the next young collection (half a
second, GIL held) and each full collection scans them all again (over a second): a frozen UI at
random moments. They are acyclic JSON, which reference counting frees, so:

- once a big listing is in, everything alive moves to the collector's permanent generation,
  which it never scans (``gc.freeze``);
- in the console process (:func:`take_over`) automatic collection is off; the console collects
  the young generations itself every few seconds, never while a refresh is building a listing,
  and everything else now and then. Those collections only see what came after the last freeze.

Thread switching. Once the inbox is on screen, worker threads (polls, comparisons, filters) run
while the event loop answers keys; handing the interpreter over every 1 ms instead of Python's
5 ms bounds how long a key waits for it. Not before: at start-up the first listing's decoding
and the imports share the interpreter better at the default.
"""

from __future__ import annotations

import gc
import sys
import time

# Listings below this are not worth it: their collections take a few milliseconds.
FREEZE_FROM_TASKS = 2000
YOUNG_EVERY = 10.0  # seconds between collections of the young generations
FULL_EVERY = 600.0  # seconds between full collections

INTERACTIVE_SWITCH_INTERVAL = 0.001  # seconds

_manual = False
_default_switch_interval = sys.getswitchinterval()
_frozen = False  # gc.get_freeze_count() walks the frozen objects: 12 ms at 10,000 tasks
_last_young = _last_full = time.monotonic()


def take_over() -> None:
    """Tune this process for the console: automatic collection off (see
    :func:`collect_when_idle`), and the short switch interval once the inbox is shown."""
    global _manual
    gc.disable()
    _manual = True


def give_back() -> None:
    global _manual
    _manual = False
    gc.enable()
    sys.setswitchinterval(_default_switch_interval)


def before_poll() -> None:
    """Collect the garbage made since the last freeze (young generations: milliseconds)."""
    if _frozen:
        gc.collect(1)


def after_listing(tasks: int) -> None:
    """Move a big listing (and everything else alive) out of the collector's reach; from now on
    the UI runs next to worker threads, so switch between threads more often."""
    global _frozen
    if tasks >= FREEZE_FROM_TASKS:
        gc.freeze()
        _frozen = True
    if _manual:
        sys.setswitchinterval(INTERACTIVE_SWITCH_INTERVAL)


def collect_when_idle(*, busy: bool) -> None:
    """The console's own collections; ``busy`` while a listing is being built and not frozen."""
    global _last_young, _last_full
    if not _manual or busy:
        return
    now = time.monotonic()
    if now - _last_full >= FULL_EVERY:
        gc.collect()
        _last_full = _last_young = now
    elif now - _last_young >= YOUNG_EVERY:
        gc.collect(1)
        _last_young = now
