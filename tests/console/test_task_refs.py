"""Task references: every resolution rule, on hand-made tasks (no server)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client import Task
from console.task_refs import (
    AmbiguousRef,
    FullRef,
    UnknownRef,
    resolve_ref,
    short_refs,
)


def task(workflow_id: str, run_id: str, task_id: str, title: str | None = None) -> Task:
    return Task.model_validate(
        {
            "id": task_id,
            "workflow_id": workflow_id,
            "run_id": run_id,
            "task_payload": {"title": title or f"{task_id} of {run_id}"},
        }
    )


# Two runs share "run_7", but only one of them waits on "approve-review".
REVIEW_A = task("wf_pr", "run_7f3a9c1e5b2d", "approve-review", "Post review on PR #1432?")
REVIEW_B = task("wf_pr", "run_29d8e7a4c0f6", "approve-review", "Post review on PR #1398?")
EXTRACT = task("wf_crm", "run_7a1d3c9e6f02", "review-extraction", "Check CRM fields")
BUDGET = task("wf_contract", "run_4c8b1f6e2a93", "budget-approval", "Approve €48,000?")
LEGAL = task("wf_contract", "run_4c8b1f6e2a93", "legal-review", "Legal review")
INBOX = [REVIEW_A, REVIEW_B, EXTRACT, BUDGET, LEGAL]


def test_a_task_id_unique_in_the_inbox_names_its_task() -> None:
    assert resolve_ref("budget-approval", INBOX) is BUDGET
    assert resolve_ref("  legal-review\n", INBOX) is LEGAL  # pasted with whitespace


def test_a_task_id_shared_by_two_runs_is_ambiguous_and_lists_both() -> None:
    with pytest.raises(AmbiguousRef) as caught:
        resolve_ref("approve-review", INBOX)
    assert caught.value.candidates == [REVIEW_A, REVIEW_B]
    lines = str(caught.value).splitlines()
    assert "'approve-review' matches 2 pending tasks" in lines[0]
    assert "  wf_pr/run_7f3a9c1e5b2d/approve-review  Post review on PR #1432?" in lines
    assert "  wf_pr/run_29d8e7a4c0f6/approve-review  Post review on PR #1398?" in lines


def test_run_slash_task_with_the_exact_run_id() -> None:
    assert resolve_ref("run_29d8e7a4c0f6/approve-review", INBOX) is REVIEW_B


def test_a_full_ref_in_the_inbox_is_the_task_not_a_full_ref() -> None:
    assert resolve_ref("wf_pr/run_7f3a9c1e5b2d/approve-review", INBOX) is REVIEW_A


def test_run_prefix_counts_only_runs_that_have_that_task() -> None:
    # "run_7" starts two runs, but only run_7f3a… waits on approve-review.
    assert resolve_ref("run_7/approve-review", INBOX) is REVIEW_A
    assert resolve_ref("run_7f3a/approve-review", INBOX) is REVIEW_A
    assert resolve_ref("run_29d8/approve-review", INBOX) is REVIEW_B


def test_workflow_run_prefix_task() -> None:
    assert resolve_ref("wf_pr/run_29/approve-review", INBOX) is REVIEW_B


def test_an_ambiguous_run_prefix_lists_the_candidates() -> None:
    inbox = [
        task("wf", "run_abcd1111", "approve"),
        task("wf", "run_abcd2222", "approve"),
        task("wf", "run_ffff0000", "approve"),
    ]
    with pytest.raises(AmbiguousRef) as caught:
        resolve_ref("run_abcd/approve", inbox)
    assert caught.value.candidates == inbox[:2]
    assert resolve_ref("run_abcd2/approve", inbox) is inbox[1]
    assert resolve_ref("wf/run_abcd1/approve", inbox) is inbox[0]


def test_an_exact_run_id_wins_over_a_longer_run_it_prefixes() -> None:
    short, long = task("wf", "run_ab", "t"), task("wf", "run_abc", "t")
    assert resolve_ref("run_ab/t", [long, short]) is short
    assert resolve_ref("run_abc/t", [long, short]) is long


def test_the_same_run_id_in_two_workflows_needs_the_workflow() -> None:
    a, b = task("wf_a", "run_1", "t"), task("wf_b", "run_1", "t")
    with pytest.raises(AmbiguousRef):
        resolve_ref("run_1/t", [a, b])
    assert resolve_ref("wf_b/run_1/t", [a, b]) is b


def test_a_workflow_that_is_not_the_tasks_does_not_match_it() -> None:
    # Well-formed, so it is sent as given (and the server will say it does not exist).
    assert resolve_ref("wf_crm/run_7f3a9c1e5b2d/approve-review", INBOX) == FullRef(
        "wf_crm", "run_7f3a9c1e5b2d", "approve-review"
    )


def test_a_full_ref_not_in_the_inbox_is_returned_as_given() -> None:
    ref = resolve_ref("wf_pr/run_done00000000/approve-review", INBOX)
    assert isinstance(ref, FullRef)
    assert ref.key == ("wf_pr", "run_done00000000", "approve-review")
    assert str(ref) == "wf_pr/run_done00000000/approve-review"


def test_an_unknown_task_id_says_so_and_points_to_tasks_list() -> None:
    with pytest.raises(UnknownRef) as caught:
        resolve_ref("deploy-prod", INBOX)
    assert "No pending task matches 'deploy-prod'" in str(caught.value)
    assert "command-center tasks list" in str(caught.value)
    assert caught.value.candidates == []


def test_an_unknown_run_for_a_known_task_lists_that_tasks_runs() -> None:
    with pytest.raises(UnknownRef) as caught:
        resolve_ref("run_zz/approve-review", INBOX)  # two parts: never a FullRef
    assert caught.value.candidates == [REVIEW_A, REVIEW_B]
    assert "wf_pr/run_29d8e7a4c0f6/approve-review" in str(caught.value)


@pytest.mark.parametrize("ref", ["", "   ", "wf//t", "/run_1/t", "wf/run_1/", "a/b/c/d"])
def test_malformed_refs_are_unknown_not_full_refs(ref: str) -> None:
    with pytest.raises(UnknownRef):
        resolve_ref(ref, INBOX)


def test_a_task_listed_twice_is_not_ambiguous() -> None:
    assert resolve_ref("budget-approval", [BUDGET, BUDGET.model_copy()]) is BUDGET


def test_task_ids_containing_slashes_still_resolve() -> None:
    slashed = task("wf", "run_12345678", "review/step-2")
    other = task("wf", "run_87654321", "review/step-2")
    inbox = [slashed, other, BUDGET]
    assert resolve_ref("run_1234/review/step-2", inbox) is slashed
    assert resolve_ref("wf/run_8765/review/step-2", inbox) is other
    assert resolve_ref("budget-approval", inbox) is BUDGET


def test_candidate_lines_are_cleaned() -> None:
    evil = [
        task("wf", "run_1", "t", "\x1b]52;c;ZXZpbA==\x07 pwned \u202eevil"),
        task("wf", "run_2", "t", "ok"),
    ]
    with pytest.raises(AmbiguousRef) as caught:
        resolve_ref("t", evil)
    message = str(caught.value)
    assert "\x1b" not in message and "\x07" not in message and "\u202e" not in message
    assert "\\x1b]52;c;ZXZpbA==\\x07 pwned \\u202eevil" in message


def test_short_refs_use_eight_characters_of_the_run_when_that_is_enough() -> None:
    refs = short_refs(INBOX)
    assert refs[REVIEW_A.key] == "run_7f3a/approve-review"
    assert refs[BUDGET.key] == "run_4c8b/budget-approval"


def test_short_refs_lengthen_the_run_prefix_or_fall_back_to_the_full_address() -> None:
    a, b = task("wf", "run_abcd1111", "t"), task("wf", "run_abcd1122", "t")
    twin_a, twin_b = task("wf_x", "run_same", "u"), task("wf_y", "run_same", "u")
    refs = short_refs([a, b, twin_a, twin_b])
    assert refs[a.key] == "run_abcd111/t"
    assert refs[b.key] == "run_abcd112/t"
    assert refs[twin_a.key] == "wf_x/run_same/u"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["wf", "wf_b", "w/f"]),
            st.text("ab/", min_size=1, max_size=10),
            st.sampled_from(["t", "u", "t/u", "ab"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_short_ref_resolves_back_to_its_task(keys: list[tuple[str, str, str]]) -> None:
    inbox = [task(*key) for key in dict.fromkeys(keys)]
    refs = short_refs(inbox)
    for item in inbox:
        assert resolve_ref(refs[item.key], inbox) is item
