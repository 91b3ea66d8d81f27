"""The run view's timeline: dates for events not from today, and events in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from textual.widgets import Static

from client import RunEvent
from console.screens.run import RunScreen, event_time, events_table, in_time_order

from .conftest import ConsoleFactory, wait_for
from .test_console_flows import loaded, plain

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the tests' zone is UTC (see conftest)


def event(event_id: str, at: datetime | None, kind: str = "step_completed") -> RunEvent:
    return RunEvent(id=event_id, type=kind, at=at, step_id=event_id)


def test_todays_events_show_the_time_and_others_the_date() -> None:
    assert event_time(NOW - timedelta(hours=11, minutes=59), NOW) == "00:01:00"
    assert event_time(NOW - timedelta(hours=12, seconds=1), NOW) == "11-24 23:59:59"
    assert event_time(datetime(2025, 12, 31, 17, 4, 10, tzinfo=UTC), NOW) == "2025-12-31 17:04:10"
    assert event_time(None, NOW) == "?"
    # Local time decides the day: 00:30 at +02:00 is still yesterday, 22:30, here.
    plus_two = datetime(2026, 11, 25, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert event_time(plus_two, NOW) == "11-24 22:30:00"


def test_the_table_dates_older_events_and_keeps_them_readable() -> None:
    events = [
        event("yesterday", datetime(2026, 11, 24, 17, 4, 10, tzinfo=UTC)),
        event("today", datetime(2026, 11, 25, 9, 19, 46, tzinfo=UTC)),
    ]
    lines = [line.strip() for line in plain(events_table(events, NOW)).splitlines()]
    assert lines[1].startswith("11-24 17:04:10") and "yesterday" in lines[1]
    assert lines[2].startswith("09:19:46") and "today" in lines[2]
    today_only = plain(events_table(events[1:], NOW)).splitlines()
    assert today_only[1].startswith("09:19:46")  # no room spent on dates nobody needs


def test_events_keep_their_order_unless_their_times_disagree() -> None:
    t0 = datetime(2026, 11, 24, 16, 19, 46, tzinfo=UTC)
    ordered = [event("a", t0), event("b", t0), event("c", t0 + timedelta(seconds=1))]
    assert in_time_order(ordered) is ordered  # chronological (ties too): as received
    shuffled = [
        event("late", t0 + timedelta(minutes=45)),
        event("unknown", None),
        event("early", t0),
        event("tie-1", t0 + timedelta(minutes=1)),
        event("tie-2", t0 + timedelta(minutes=1)),
        event("unknown-2", None),
    ]
    assert [e.id for e in in_time_order(shuffled)] == [
        "early",
        "tie-1",
        "tie-2",
        "late",
        "unknown",
        "unknown-2",
    ]
    lines = plain(events_table(shuffled, NOW)).splitlines()
    assert lines[1].split()[:2] == ["11-24", "16:19:46"] and lines[-2].strip().startswith("?")


async def test_the_run_view_dates_the_events_of_an_older_run(
    make_console: ConsoleFactory,
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        # Seeded 4 days 6 hours before the tests' clock (2026-11-25 12:00 UTC).
        app.push_screen(RunScreen("wf_inventory_reconcile", "run_f0e1d2c3b4a5"))
        screen: Any = app.screen
        await wait_for(lambda: screen.story is not None, pilot.pause)
        text = plain(screen.query_one("#events", Static).content)
        rows = [line for line in text.splitlines()[1:] if line.strip()]
        assert rows and all(line.strip().startswith("11-21 ") for line in rows)
