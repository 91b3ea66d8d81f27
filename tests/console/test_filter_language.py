"""The filter language, marks and new flags in the inbox model, without Textual (13.1/3/4)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.filter_query import Kind, Term, parse
from console.inbox_model import InboxModel, SortKey
from tests.listings import listed

from .test_inbox_model import NOW, make_task


@pytest.fixture
def model() -> InboxModel:
    model = InboxModel(stalled_after=timedelta(hours=1), clock=lambda: NOW)
    model.apply(
        [
            make_task("crm-a", wf="wf_crm", wf_name="CRM sync", run="run_29d8aaaa", minutes=90),
            make_task(
                "crm-b",
                wf="wf_crm",
                wf_name="CRM sync",
                run="run_77aa0000",
                minutes=10,
                task_type="review",
                fields=[{"key": "note", "value": "acme/api down", "editable": True}],
            ),
            make_task("mail", wf="wf_email", run="run_1234bbbb", minutes=200, title="Refund?"),
            make_task("fresh", wf="wf_email", run="run_5678cccc", minutes=1, task_type="review"),
        ]
    )
    return model


def shown(model: InboxModel, text: str) -> list[str]:
    model.filter_text = text
    return [row.key[2] for row in model.rows()]


def test_terms_parse_with_negation_quotes_and_problems() -> None:
    query = parse('workflow:"crm sync" !type:review age>30m "two words" stalled !new marked x:y')
    assert query.terms == (
        Term(Kind.WORKFLOW, "crm sync"),
        Term(Kind.TYPE, "review", negated=True),
        Term(Kind.OLDER, 1800.0),
        Term(Kind.WORD, "two words"),
        Term(Kind.STALLED),
        Term(Kind.NEW, negated=True),
        Term(Kind.MARKED),
        Term(Kind.WORD, "x:y"),  # not a known name: a free word
    )
    assert not query.problems
    half = parse("age> run: ! refund")
    assert half.terms == (Term(Kind.WORD, "refund"),)
    assert half.problems == (
        "age> needs a duration like 30m, 2h or 1d",
        "run: needs a value",
        "! needs a term after it",
    )


def test_each_term_kind_selects_what_it_says(model: InboxModel) -> None:
    assert shown(model, "workflow:crm") == ["crm-a", "crm-b"]
    assert shown(model, "workflow:wf_email") == ["mail", "fresh"]  # the id counts too
    assert shown(model, "type:review") == ["crm-b", "fresh"]
    assert shown(model, "run:29d8") == ["crm-a"]
    assert shown(model, "run:run_1234") == ["mail"]
    assert shown(model, "age>1h") == ["mail", "crm-a"]
    assert shown(model, "age<15m") == ["crm-b", "fresh"]
    assert shown(model, "stalled") == ["mail", "crm-a"]
    assert shown(model, "acme/api") == ["crm-b"]  # a field value: free words read the payload
    assert shown(model, "refund") == ["mail"]


def test_terms_and_together_and_bang_negates(model: InboxModel) -> None:
    assert shown(model, "workflow:crm !stalled") == ["crm-b"]
    assert shown(model, "type:review age<5m") == ["fresh"]
    assert shown(model, "!workflow:crm !refund") == ["fresh"]
    assert shown(model, "sync !acme") == ["crm-a"]


def test_a_term_being_typed_matches_everything_until_complete(model: InboxModel) -> None:
    assert len(shown(model, "age>")) == 4
    assert shown(model, "age>2") == shown(model, "age>")  # no unit yet
    assert shown(model, "age>2h") == ["mail"]


def test_narrowing_terms_reuse_the_last_scan_and_stay_correct(model: InboxModel) -> None:
    assert shown(model, "workflow:c") == ["crm-a", "crm-b"]
    last = model._view
    assert last is not None
    request = model.request(text="workflow:crm stalled")
    assert model._narrowable(request) is last  # scans only the last view's rows
    assert shown(model, "workflow:crm stalled") == ["crm-a"]
    # Backspace widens: not narrowable, so every row is scanned again.
    assert model._narrowable(model.request(text="workflow:")) is None
    assert shown(model, "workflow:") == ["mail", "crm-a", "crm-b", "fresh"]


def test_marks_survive_refreshes_and_leave_with_their_task(model: InboxModel) -> None:
    rows = {row.key[2]: row for row in model.rows()}
    assert model.toggle_mark(rows["crm-a"].key) is True
    assert model.mark([rows["mail"].key, rows["crm-a"].key]) == 1
    assert shown(model, "marked") == ["mail", "crm-a"]
    # A refresh in which "mail" is gone (completed elsewhere) and the rest unchanged.
    model.apply([row.task for row in model._rows.values() if row.key[2] != "mail"])
    assert model.marks == {rows["crm-a"].key}
    assert model.marks_left == ["Refund?"]
    assert shown(model, "marked") == ["crm-a"]  # the view followed the marks
    assert shown(model, "!marked") == ["crm-b", "fresh"]
    model.toggle_mark(rows["crm-a"].key)
    assert shown(model, "marked") == []  # a mark change makes a "marked" view stale
    assert model.mark([("wf_x", "run_x", "not-pending")]) == 0


def test_a_decided_task_takes_its_mark_silently(model: InboxModel) -> None:
    key = next(iter(model.rows())).key
    model.toggle_mark(key)
    assert model.remove(key)
    assert model.marked_count == 0 and model.marks_left == []


def test_tasks_added_after_the_first_listing_are_new_until_seen(model: InboxModel) -> None:
    assert model.new_count == 0  # the first listing is what the operator came to
    tasks = [row.task for row in model._rows.values()]
    late = make_task("late", wf="wf_email", run="run_9999dddd", minutes=0)
    later = make_task("later", wf="wf_crm", run="run_9999eeee", minutes=0)
    model.apply([*tasks, late, later])
    assert model.new_count == 2 and model.is_new(late.key)
    assert shown(model, "new") == ["later", "late"] or shown(model, "new") == ["late", "later"]
    model.filter_text = ""
    model.sort_key = SortKey.NEWEST
    order = [row.key for row in model.rows()]
    assert set(order[:2]) == {late.key, later.key}
    first = model.next_new(-1)
    assert first is not None and order[first] in (late.key, later.key)
    second = model.next_new(first)
    assert second is not None and second != first
    assert model.next_new(second) == first  # wraps
    assert model.seen(late.key) and not model.seen(late.key)
    assert model.new_count == 1
    model.apply(tasks)  # both left: the flags go with them
    assert model.new_count == 0 and model.next_new(0) is None


def test_newest_first_keeps_unknown_ages_last() -> None:
    model = InboxModel(clock=lambda: NOW)
    (unknown,) = listed([{"id": "unknown", "workflow_id": "wf", "run_id": "run_1"}])
    model.apply([make_task("old", minutes=60), unknown, make_task("young", minutes=1)])
    model.sort_key = SortKey.NEWEST
    assert [row.key[2] for row in model.rows()] == ["young", "old", "unknown"]


def test_age_terms_follow_the_clock_minute_by_minute() -> None:
    now = [NOW]
    model = InboxModel(clock=lambda: now[0])
    model.apply([make_task("t", minutes=29)])
    model.filter_text = "age>30m"
    assert len(model.rows()) == 0
    now[0] = NOW + timedelta(minutes=2)
    assert model.stale()  # the screen asks again, once a minute
    assert len(model.rows()) == 1
