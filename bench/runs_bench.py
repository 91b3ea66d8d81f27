"""The runs sections at scale: 10,000 runs must cost what 10,000 tasks cost (issue 14).

Both sides over real loopback HTTP (two stubs in threads: n tasks, n runs, on a stopped clock),
read by the console's own code, interleaved, median of ``repeat``:

* **runs feed read** – ``poll_runs`` of a changed feed (every run decoded) against
  ``poll_pending_tasks`` of a changed listing of as many tasks;
* **runs feed, unchanged** – the 304 path of ``poll_runs`` (what every 3 s costs while nothing
  changes), against the same for tasks;
* **runs section filter** – a filter keystroke's work in a runs section (``RunsModel.rows``
  on a fresh text, sorted rows and texts kept) against the same keystroke in the inbox's model.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from client import CommandCenterClient
from console.inbox_model import InboxModel
from console.runs_model import RunsModel, Section
from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    StubServer,
    StubState,
    generate_runs,
    generate_tasks,
)

from ._table import Row, by_tier

# A runs row is "as fast as" the tasks row when within this ratio (the same frame, at 10,000).
AS_FAST = (None, 1.5, None)


def _interleaved(
    a: Callable[[], object], b: Callable[[], object], repeat: int
) -> tuple[float, float]:
    first, second = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        a()
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        b()
        second.append(time.perf_counter() - start)
    return statistics.median(first), statistics.median(second)


def runs_at_scale(n: int, repeat: int = 5) -> list[Row]:
    # Two stubs, so each side lists exactly n (a task's run would be in the runs feed too), on
    # a stopped clock, so the runs do not move on between two polls.
    moment = datetime.now(UTC)
    with_tasks, with_runs = StubState(now=lambda: moment), StubState(now=lambda: moment)
    generate_tasks(with_tasks, n)
    generate_runs(with_runs, n, seed=1, awaiting=0.0)
    size = f"{n:,}"
    rows: list[Row] = []
    with (
        StubServer(with_tasks) as task_server,
        StubServer(with_runs) as run_server,
        CommandCenterClient(
            task_server.url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, timeout=120
        ) as tasks_client,
        CommandCenterClient(
            run_server.url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, timeout=120
        ) as client,
    ):
        runs = client.poll_runs(None)
        tasks = tasks_client.poll_pending_tasks(None)
        assert len(runs.runs) == n and len(tasks.tasks) == n, (len(runs.runs), len(tasks.tasks))
        changed_runs, changed_tasks = _interleaved(
            lambda: client.poll_runs(None), lambda: tasks_client.poll_pending_tasks(None), repeat
        )
        rows.append(
            Row(
                "runs feed read (changed) vs a task listing",
                size,
                changed_runs * 1000,
                "ms",
                reference=changed_tasks * 1000,
                target=by_tier(n, AS_FAST),
                note=f"poll_runs vs poll_pending_tasks, every entry read; median of {repeat}",
            )
        )
        same_runs, same_tasks = _interleaved(
            lambda: client.poll_runs(runs), lambda: tasks_client.poll_pending_tasks(tasks), repeat
        )
        rows.append(
            Row(
                "runs feed poll (unchanged) vs a task listing",
                size,
                same_runs * 1000,
                "ms",
                reference=same_tasks * 1000,
                target=by_tier(n, AS_FAST),
                note="304 to If-None-Match: nothing re-read",
            )
        )
    model = RunsModel()
    model.apply(runs.runs)
    inbox = InboxModel()
    inbox.apply(tasks.tasks)
    section = max(Section, key=model.count)
    model.rows(section)  # sorted once, as the section is shown
    inbox.rows()
    inbox.index_search()  # the inbox's texts are made by a worker after each refresh
    model.rows(section, "warm")  # and the runs' on the section's first filter
    words = iter(f"a{i}" for i in range(10 * repeat))
    filter_runs, filter_tasks = _interleaved(
        lambda: model.rows(section, next(words)),
        lambda: inbox.view_for(inbox.request(text=next(words))),
        repeat,
    )
    rows.append(
        Row(
            "runs section filter keystroke vs the inbox's",
            size,
            filter_runs * 1000,
            "ms",
            reference=filter_tasks * 1000,
            target=by_tier(n, AS_FAST),
            note=f"{section.title}: {model.count(section):,} runs; model work, in process",
        )
    )
    return rows
