"""The inbox's logic without Textual: diffing, filtering, sorting, restricting, ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from client import ListedTask
from console.inbox_model import InboxModel, SortKey, format_age
from console.widgets.task_table import layout_columns
from tests.listings import listed

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def make_task(
    task_id: str,
    *,
    run: str = "run_0001aaaa",
    wf: str = "wf_email",
    wf_name: str | None = "Email approval",
    task_type: str = "approval",
    minutes: float = 5,
    title: str = "Send the email?",
    **extra: Any,
) -> ListedTask:
    (task,) = listed(
        [
            {
                "id": task_id,
                "workflow_id": wf,
                "workflow_name": wf_name,
                "run_id": run,
                "step_id": task_id,
                "task_type": task_type,
                "created_at": (NOW - timedelta(minutes=minutes)).isoformat(),
                "task_payload": {"title": title, **extra},
            }
        ]
    )
    return task


@pytest.fixture
def model() -> InboxModel:
    return InboxModel(stalled_after=timedelta(hours=1), clock=lambda: NOW)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=4, seconds=59), "4m"),
        (timedelta(minutes=59, seconds=59), "59m"),
        (timedelta(minutes=60), "1h00"),
        (timedelta(minutes=65), "1h05"),
        (timedelta(minutes=119, seconds=59), "1h59"),
        (timedelta(hours=2, minutes=30), "2h30"),
        (timedelta(hours=9, minutes=59, seconds=59), "9h59"),
        (timedelta(hours=10, minutes=30), "10h"),
        (timedelta(hours=23, minutes=59), "23h"),
        (timedelta(days=1), "1d"),
        (timedelta(days=3, hours=23), "3d"),
        (timedelta(seconds=-5), "0s"),
        (None, "?"),
    ],
)
def test_format_age(delta: timedelta | None, text: str) -> None:
    assert format_age(delta) == text


def test_ages_in_the_first_hours_are_distinct_and_fit_the_age_column() -> None:
    # 60–119 minutes once all read "1h"; every minute of the first 10 h now reads differently.
    texts = [format_age(timedelta(minutes=m)) for m in range(60 * 10)]
    assert len(set(texts)) == len(texts)
    ages = [timedelta(seconds=s) for s in range(0, 10 * 86400, 37)]
    assert max(len(format_age(a)) for a in ages) <= layout_columns(120)[2].width == 4


def test_apply_reports_added_changed_removed_and_nothing_when_unchanged(model: InboxModel) -> None:
    a, b = make_task("a"), make_task("b", run="run_0002bbbb")
    first = model.apply([a, b])
    assert first.added == [a.key, b.key] and not first.removed and not first.changed

    assert not model.apply([make_task("a"), make_task("b", run="run_0002bbbb")])

    retitled = make_task("a", title="Send the corrected email?")
    c = make_task("c", run="run_0003cccc")
    diff = model.apply([retitled, c])
    assert diff.added == [c.key] and diff.removed == [b.key] and diff.changed == [a.key]
    assert model.get(a.key) is retitled.full() and model.total == 2


def test_same_task_id_in_two_runs_are_two_rows(model: InboxModel) -> None:
    model.apply([make_task("approve-review", run="r1"), make_task("approve-review", run="r2")])
    assert model.total == 2 and len({row.key for row in model.rows()}) == 2


def test_oldest_first_by_default_and_sort_cycles(model: InboxModel) -> None:
    model.apply(
        [
            make_task("new", minutes=1, wf="wf_b", wf_name="Beta", task_type="edit"),
            make_task("old", minutes=300, wf="wf_c", wf_name="Charlie", task_type="review"),
            make_task("mid", minutes=30, wf="wf_a", wf_name="alpha", task_type="approval"),
        ]
    )
    assert [r.key[2] for r in model.rows()] == ["old", "mid", "new"]
    model.sort_key = model.sort_key.next()
    assert model.sort_key is SortKey.NEWEST
    assert [r.key[2] for r in model.rows()] == ["new", "mid", "old"]
    model.sort_key = model.sort_key.next()
    assert model.sort_key is SortKey.WORKFLOW
    assert [r.key[2] for r in model.rows()] == ["mid", "new", "old"]  # alpha, Beta, Charlie
    model.sort_key = model.sort_key.next()
    assert [r.key[2] for r in model.rows()] == ["mid", "new", "old"]  # approval, edit, review
    assert model.sort_key.next() is SortKey.AGE


def test_filter_matches_all_terms_across_workflow_run_type_title_step(model: InboxModel) -> None:
    model.apply(
        [
            make_task("approve-email", title="Refund for ACME", run="run_aaaa1111"),
            make_task(
                "escalate",
                wf="wf_tickets",
                wf_name="Ticket triage",
                task_type="edit",
                run="run_bbbb2222",
                title="Low confidence",
            ),
        ]
    )
    cases = {
        "acme": ["approve-email"],
        "TICKET": ["escalate"],
        "bbbb": ["escalate"],
        "edit low": ["escalate"],
        "approve email": ["approve-email"],
        "acme ticket": [],
        "": ["approve-email", "escalate"],
    }
    for text, expected in cases.items():
        model.filter_text = text
        assert sorted(r.key[2] for r in model.rows()) == expected, text
        assert model.shown == len(expected) and model.total == 2


def test_restrict_by_workflow_and_workflow_counts(model: InboxModel) -> None:
    model.apply(
        [
            make_task("a", wf="wf_x", wf_name="Zeta"),
            make_task("b", wf="wf_x", wf_name="Zeta", run="r2"),
            make_task("c", wf="wf_y", wf_name=None),
        ]
    )
    assert [(w.workflow_id, w.label, w.count) for w in model.workflows()] == [
        ("wf_y", "wf_y", 1),
        ("wf_x", "Zeta", 2),
    ]
    model.workflow = "wf_x"
    assert {r.key[2] for r in model.rows()} == {"a", "b"}
    model.workflow = None
    assert model.shown == 3


def test_remove_and_view_recomputed_after_inputs_change(model: InboxModel) -> None:
    a = make_task("a")
    model.apply([a, make_task("b", run="r2")])
    assert model.shown == 2
    assert model.remove(a.key) is True
    assert model.remove(a.key) is False
    assert [r.key[2] for r in model.rows()] == ["b"]


def test_stalled_and_unknown_age(model: InboxModel) -> None:
    fresh, old = make_task("fresh", minutes=59), make_task("old", minutes=61, run="r2")
    (unknown,) = listed([{"id": "u", "workflow_id": "w", "run_id": "r3"}])
    model.apply([fresh, old, unknown])
    assert not model.is_stalled(fresh) and model.is_stalled(old) and not model.is_stalled(unknown)
    assert model.stalled_count() == 1
    assert [r.key[2] for r in model.rows()][-1] == "u"  # unknown age sorts last


def test_backspace_and_a_narrowing_keystroke_reuse_earlier_work(model: InboxModel) -> None:
    titles = ["Send the reply?", "Review PR", "Reorder stock", "Approve refund", "Call back"]
    model.apply(make_task(f"t{i}", title=title) for i, title in enumerate(titles))
    first = model.view_for(model.request(text="re"))
    assert first is not None and model.show(first)
    # "rev" can only narrow "re": it scans re's matches, not the whole inbox.
    assert model.view_cost(model.request(text="rev")) == len(first.rows) < model.total
    narrower = model.view_for(model.request(text="rev"))
    assert narrower is not None and model.show(narrower)
    assert set(narrower.rows) <= set(first.rows)
    # Backspace to "re": remembered, no scan at all, the same rows.
    assert model.view_cost(model.request(text="re")) == 0
    again = model.view_for(model.request(text="re"))
    assert again is not None and again.rows is first.rows
    # A refresh is a new generation of rows: nothing remembered applies to it.
    model.remove(first.rows[0].key)
    assert model.view_cost(model.request(text="re")) == model.total


def test_stalled_shown_counts_only_the_rows_shown(model: InboxModel) -> None:
    model.apply(
        [
            make_task("a-old", minutes=90, wf="wf_a", title="Refund ACME"),
            make_task("a-old2", minutes=120, wf="wf_a", run="r2", title="Refund Globex"),
            make_task("a-new", minutes=5, wf="wf_a", run="r3", title="Refund ACME again"),
            make_task("b-old", minutes=300, wf="wf_b", run="r4", title="Ship ACME"),
            make_task("b-old2", minutes=61, wf="wf_b", run="r5", title="Ship Initech"),
        ]
    )
    assert model.stalled_count() == model.stalled_shown() == 4  # nothing restricts the view
    model.filter_text = "acme"
    assert model.shown == 3 and model.stalled_shown() == 2
    assert model.stalled_count() == 4  # its meaning is unchanged: the whole inbox
    model.workflow = "wf_a"
    assert model.shown == 2 and model.stalled_shown() == 1
    model.filter_text = ""
    for sort in SortKey:  # an age-sorted view is bisected, the others scanned: same answer
        model.sort_key = sort
        assert model.stalled_shown() == 2
    model.remove(model.rows()[0].key)  # a removal is a new view: counted again
    assert model.stalled_shown() == sum(model.is_stalled(r.task) for r in model.rows())


def test_stalled_shown_is_counted_once_per_view_and_minute() -> None:
    now = [NOW]
    model = InboxModel(stalled_after=timedelta(hours=1), clock=lambda: now[0])
    model.apply(make_task(f"t{i}", run=f"r{i}", minutes=30 + i) for i in range(60))
    model.sort_key = SortKey.TYPE  # not age order: the rows are scanned
    model.filter_text = "t"
    assert model.stalled_shown() == 30  # 60…89 minutes old
    # Mark one more row stalled behind the model's back: the remembered count is used.
    row = [r for r in model.rows() if not model.is_stalled(r.task)][-1]  # the youngest
    row.created -= 3600
    now[0] = NOW + timedelta(seconds=59)  # same minute: same cutoff, no rescan
    assert model.stalled_shown() == 30
    now[0] = NOW + timedelta(minutes=1)  # the cutoff moved: counted afresh
    assert model.stalled_shown() == 32  # the marked row and the one that reached 60 minutes


def test_a_filter_before_the_search_texts_are_made_counts_as_costly(model: InboxModel) -> None:
    """Until the worker has made the rows' search texts, a scan reads every payload: a view
    that costs that much goes to a thread rather than hold a keystroke."""
    model.apply(make_task(f"t{i}", run=f"r{i}") for i in range(50))
    unindexed = model.view_cost(model.request(text="send"))
    assert model.index_search() == 50
    assert model.view_cost(model.request(text="send")) == model.total < unindexed
    assert model.index_search() == 0  # made once


def test_a_view_finds_each_of_its_rows_and_only_those(model: InboxModel) -> None:
    # Positions into the sorted rows and a binary search: the same answers as a list would give.
    model.apply(
        make_task(f"t{i}", run=f"r{i % 7}", wf=f"wf_{i % 3}", minutes=i % 11, title=f"n{i % 5}")
        for i in range(60)
    )
    for sort in SortKey:
        model.sort_key = sort
        model.filter_text = ""
        every = list(model.rows())
        for text in ("", "n1", "n1 wf_2", "nothing"):
            model.filter_text = text
            rows = model.rows()
            as_list = list(rows)
            assert len(rows) == len(as_list) and list(rows[2:5]) == as_list[2:5]
            for i, row in enumerate(as_list):
                assert rows.index(row) == i and row in rows and rows[i] is row
            hidden = [r for r in every if r not in as_list]
            assert len(hidden) == model.total - len(as_list)
            for row in hidden:
                assert row not in rows
                with pytest.raises(ValueError):
                    rows.index(row)
            assert "not a row" not in rows


def test_removing_a_task_keeps_a_filtered_view_in_order(model: InboxModel) -> None:
    model.apply(make_task(f"t{i}", run=f"r{i}", minutes=i, title=f"n{i % 3}") for i in range(30))
    every = [r.key for r in model.rows()]
    model.filter_text = "n1"
    before = [r.key for r in model.rows()]
    for key in (before[3], before[0], before[-1]):  # shown rows: middle, first, last
        model.remove(key)
        before.remove(key)
        assert [r.key for r in model.rows()] == before
        assert all(model.rows().index(r) == i for i, r in enumerate(model.rows()))
    hidden = next(key for key in every if key not in before)
    model.remove(hidden)  # not shown: the view is the same rows
    assert [r.key for r in model.rows()] == before


def test_a_refresh_keeps_the_rows_of_unchanged_tasks_whatever_object_the_client_gives(
    model: InboxModel,
) -> None:
    """Same objects (the client's reuse), a copy of the same JSON (a stand-in, a re-read), a
    changed JSON, a new task, a dropped one: rows kept or made, as a fresh model would show."""
    first = [make_task(f"t{i}", run=f"r{i}", minutes=i, title=f"T{i}") for i in range(8)]
    model.apply(first)
    rows = {r.key: r for r in model.rows()}
    copy = make_task("t1", run="r1", minutes=1, title="T1")  # same JSON, a new object
    edited = make_task("t2", run="r2", minutes=2, title="T2, edited")
    new = make_task("t9", run="r9", minutes=0.5, title="T9")
    second = [first[0], copy, edited, *first[3:6], new]  # t6, t7 gone
    diff = model.apply(second)
    assert diff.added == [new.key] and diff.changed == [edited.key]
    assert sorted(diff.removed) == sorted([first[6].key, first[7].key])
    now = {r.key: r for r in model.rows()}
    for task in (first[0], copy, *first[3:6]):
        assert now[task.key] is rows[task.key]  # the very row: cursor and caches keep
    assert now[edited.key] is not rows[edited.key] and now[edited.key].task is edited
    fresh = InboxModel(stalled_after=model.stalled_after, clock=model.clock)
    fresh.apply(second)
    for sort in SortKey:
        model.sort_key = fresh.sort_key = sort
        assert [r.key for r in model.rows()] == [r.key for r in fresh.rows()]
    assert not model.apply(second)  # the same listing again: nothing changed
