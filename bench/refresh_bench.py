"""The CPU one inbox refresh costs the console, measured in-process with the console's services.

The stub runs in another process (``StubProcess``), so ``time.process_time()`` around
``await services.refresh_inbox()`` counts only the console's side: the request, the parse, the
fold into the inbox model – in every thread of this process (a parse moved to a worker thread
still counts). The services are built as ``console.launch`` builds them, with the outbox and
audit log in a scratch folder. A ``gc.collect()`` before each measured refresh keeps the
benchmark's own garbage out of it.

* **unchanged** – after a first (cold) load, refresh again with nothing changed on the server.
* **1% changed** – before each measured refresh, complete 1% of the pending tasks through the API
  (``CommandCenterClient.complete_task(..., approved=True)`` on keys from one
  ``list_pending_tasks()``, shuffled with a fixed seed), so the listing lost those tasks.

Medians of ``repeat`` refreshes (10 up to 10,000 tasks, 3 above: one refresh of 100,000 tasks
takes seconds). Note: running this mutates the stub (it completes ``repeat`` % of its tasks).
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from client import AsyncCommandCenterClient, CommandCenterClient
from console._prefetch import polling_client
from console.audit import AuditLog
from console.inbox_model import RowDiff
from console.outbox import Outbox
from console.services import ConsoleServices
from console.settings import ConsoleSettings
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT

from ._table import Row

TIMEOUT = 300.0


@dataclass(frozen=True)
class Sample:
    cpu: float
    wall: float
    diff: RowDiff


async def _measure(refresh: Callable[[], Awaitable[RowDiff]]) -> Sample:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    diff = await refresh()
    return Sample(time.process_time() - cpu, time.perf_counter() - wall, diff)


async def _run(
    url: str, scratch: Path, repeat: int, *, changes: bool = True
) -> tuple[Sample, list[Sample], list[Sample], int]:
    settings = ConsoleSettings(
        base_url=url, tenant=DEMO_TENANT, project=DEMO_PROJECT, request_timeout=TIMEOUT
    )
    client = AsyncCommandCenterClient(
        url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, timeout=TIMEOUT
    )
    outbox = Outbox(scratch / "outbox.sqlite3")
    # As console.launch.build_app wires them over the network: polls by a blocking client in
    # a worker thread.
    poller = polling_client(settings, DEMO_CONTRIBUTOR_TOKEN)
    services = ConsoleServices(
        settings,
        client,
        outbox=outbox,
        audit=AuditLog(scratch / "audit.jsonl"),
        poll_client=poller,
    )
    try:
        cold = await _measure(services.refresh_inbox)
        unchanged = [await _measure(services.refresh_inbox) for _ in range(repeat)]
        changed: list[Sample] = []
        if not changes:
            return cold, unchanged, changed, 0
        with CommandCenterClient(
            url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, timeout=TIMEOUT
        ) as api:
            keys = [task.key for task in api.list_pending_tasks()]
            random.Random(20240601).shuffle(keys)
            batch = max(1, len(keys) // 100)
            for round_ in range(repeat):
                chosen = keys[round_ * batch : (round_ + 1) * batch]
                if len(chosen) < batch:
                    break
                for key in chosen:
                    api.complete_task(*key, approved=True)
                changed.append(await _measure(services.refresh_inbox))
        return cold, unchanged, changed, batch
    finally:
        await services.aclose()
        outbox.close()


def refresh_cpu(url: str, n: int, repeat: int | None = None, *, etags: bool = True) -> list[Row]:
    """Rows for the refresh's CPU time with unchanged data and with 1% of the tasks completed.

    ``etags=False``: the stub sends no ETag (as the platform documents none), so an unchanged
    poll moves the whole body again; only the unchanged row is measured.
    """
    repeat = repeat or (10 if n <= 10_000 else 3)
    with tempfile.TemporaryDirectory(prefix="cc-bench-refresh-") as scratch:
        cold, unchanged, changed, batch = asyncio.run(
            _run(url, Path(scratch), repeat, changes=etags)
        )
    size = f"{n:,}"
    odd_unchanged = sum(1 for s in unchanged if s.diff)
    odd_changed = sum(1 for s in changed if len(s.diff.removed) != batch)
    wall = statistics.median(s.wall for s in unchanged) * 1000
    unchanged_note = (
        f"median of {len(unchanged)}; wall {wall:.0f} ms; "
        f"cold first load {cold.cpu * 1000:.0f} ms CPU"
    )
    if odd_unchanged:
        unchanged_note += f"; {odd_unchanged} diffs NOT empty"
    unchanged_row = Row(
        "refresh CPU, unchanged data" + ("" if etags else ", server without ETags"),
        size,
        statistics.median(s.cpu for s in unchanged) * 1000,
        "ms",
        target=20 if etags else None,
        note=unchanged_note + ("; 304 to If-None-Match" if etags else "; whole body compared"),
    )
    if not etags:
        return [unchanged_row]
    changed_note = (
        f"median of {len(changed)}; {batch} completed before each; wall "
        f"{statistics.median(s.wall for s in changed) * 1000:.0f} ms"
    )
    if odd_changed:
        changed_note += f"; {odd_changed} diffs did not remove {batch}"
    return [
        unchanged_row,
        Row(
            "refresh CPU, 1% of tasks completed",
            size,
            statistics.median(s.cpu for s in changed) * 1000,
            "ms",
            target=300 if n >= 100_000 else None,
            note=changed_note,
        ),
    ]
