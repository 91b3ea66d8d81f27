"""Task parsing: the contract's shape, the older spec's names, and payloads of any form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from client.models import (
    CompletionRequest,
    FieldType,
    RunEvent,
    Task,
    TaskPayload,
    infer_field_type,
)

CONTRACT_TASK = {
    "id": "approve-review",
    "workflow_id": "wf_pr_review",
    "workflow_name": "PR review assistant",
    "run_id": "run_7f3a9c1e5b2d",
    "step_id": "approve-review",
    "task_type": "approval",
    "status": "pending",
    "created_at": "2026-11-25T09:14:03.120Z",
    "task_payload": {
        "title": "Post review comment on PR #1432?",
        "description": "The LLM drafted this review. Approve to post it to GitHub.",
        "fields": {"repository": "acme/api", "pull_request": 1432, "confidence": 0.62},
        "editable": {"comment_body": "Looks good overall, but …"},
    },
}


def test_contract_task_reads_every_documented_key() -> None:
    task = Task.model_validate(CONTRACT_TASK)
    assert task.key == ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
    assert task.title == "Post review comment on PR #1432?"
    assert task.description == "The LLM drafted this review. Approve to post it to GitHub."
    assert task.short_run_id == "run_7f3a"
    assert task.workflow_label == "PR review assistant"
    assert task.created_at == datetime(2026, 11, 25, 9, 14, 3, 120000, tzinfo=UTC)
    assert [(f.name, f.type, f.editable) for f in task.fields] == [
        ("repository", FieldType.STRING, False),
        ("pull_request", FieldType.INTEGER, False),
        ("confidence", FieldType.NUMBER, False),
        ("comment_body", FieldType.STRING, True),
    ]
    assert task.editable_values() == {"comment_body": "Looks good overall, but …"}
    assert task.raw == CONTRACT_TASK


def test_older_spec_names_and_missing_optional_keys() -> None:
    task = Task.model_validate(
        {
            "task_id": "review",
            "workflow_id": "wf",
            "run_id": "r1",
            "prompt": "Approve the refund?",
            "context": {"amount": 12.5, "customer": "ACME"},
            "created_at": "2026-11-25T09:14:03+02:00",
        }
    )
    assert task.id == "review"
    assert task.workflow_name is None and task.step_id is None and task.status is None
    assert task.title == "Approve the refund?"  # the prompt stands in for a missing title
    assert task.workflow_label == "wf"
    assert task.task_payload == {"amount": 12.5, "customer": "ACME"}
    assert task.created_at == datetime(2026, 11, 25, 7, 14, 3, tzinfo=UTC)
    assert task.created_at.utcoffset() == timedelta(hours=2)
    # A payload that follows no convention: nothing lost, everything in extra and raw.
    assert task.payload.extra == {"amount": 12.5, "customer": "ACME"}
    assert task.fields == []


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-25T09:14:03Z",
        "2026-11-25T09:14:03.120Z",
        "2026-11-25T09:14:03.120456+00:00",
        "2026-11-25T10:14:03+01:00",
        "2026-11-25T04:14:03-05:00",
    ],
)
def test_created_at_variants_are_one_instant(stamp: str) -> None:
    task = Task.model_validate({"id": "t", "workflow_id": "w", "run_id": "r", "created_at": stamp})
    assert task.created_at is not None
    assert task.created_at.replace(microsecond=0) == datetime(2026, 11, 25, 9, 14, 3, tzinfo=UTC)


def test_unknown_keys_are_kept_and_a_bad_timestamp_does_not_hide_the_task() -> None:
    task = Task.model_validate(
        {
            "id": "t",
            "workflow_id": "w",
            "run_id": "r",
            "created_at": "yesterday-ish",
            "priority": {"level": 3},
            "task_payload": {"title": "T", "x-extra": [1, 2]},
        }
    )
    assert task.created_at is None
    assert task.raw["priority"] == {"level": 3}
    assert task.model_extra == {"priority": {"level": 3}}
    assert task.payload.extra == {"x-extra": [1, 2]}


def test_non_object_payload_is_kept_as_a_value() -> None:
    task = Task.model_validate({"id": "t", "workflow_id": "w", "run_id": "r", "context": "raw"})
    assert task.task_payload == {"value": "raw"}
    assert task.title == "t"  # no title, no prompt, no step: the id
    assert task.raw["context"] == "raw"


def test_identity_is_required() -> None:
    with pytest.raises(ValidationError):
        Task.model_validate({"id": "t", "workflow_id": "w"})


def test_list_form_fields_with_types_options_and_editable_names() -> None:
    payload = TaskPayload.from_raw(
        {
            "title": "Fix CRM record",
            "fields": [
                {"name": "company", "label": "Company", "value": "Acme", "required": True},
                {"name": "employees", "value": 120, "type": "int"},
                {"name": "tier", "value": "gold", "options": ["silver", "gold"]},
                {"name": "notes", "value": "a", "type": "string", "multiline": True},
                {"name": "active", "value": True, "editable": True},
                {"name": "meta", "value": {"a": 1}},
                "not a field",
            ],
            "editable": ["company", "employees", "tier", "notes", "missing"],
        }
    )
    by_name = {f.name: f for f in payload.fields}
    assert by_name["company"].label == "Company" and by_name["company"].required
    assert by_name["employees"].type is FieldType.INTEGER
    assert by_name["tier"].type is FieldType.ENUM and by_name["tier"].options == ["silver", "gold"]
    assert by_name["notes"].type is FieldType.TEXT
    assert by_name["meta"].type is FieldType.JSON and not by_name["meta"].editable
    assert by_name["fields[6]"].value == "not a field"
    assert payload.editable_values() == {
        "company": "Acme",
        "employees": 120,
        "tier": "gold",
        "notes": "a",
        "active": True,
        "missing": None,
    }


def test_editable_object_overrides_a_listed_field_in_place() -> None:
    payload = TaskPayload.from_raw(
        {
            "fields": [
                {"name": "tier", "label": "Tier", "value": "gold", "options": ["a", "gold"]}
            ],
            "editable": {"tier": "a", "body": "Hi\nthere"},
        }
    )
    assert [f.name for f in payload.fields] == ["tier", "body"]
    assert payload.fields[0].label == "Tier" and payload.fields[0].type is FieldType.ENUM
    assert payload.fields[1].type is FieldType.TEXT
    assert payload.editable_values() == {"tier": "a", "body": "Hi\nthere"}


def test_convention_keys_of_the_wrong_type_are_shown_not_dropped() -> None:
    payload = TaskPayload.from_raw({"title": 42, "fields": "oops", "editable": 7})
    assert payload.title is None
    assert payload.extra == {"title": 42, "fields": "oops", "editable": 7}


@pytest.mark.parametrize(
    ("value", "declared", "options", "expected"),
    [
        ("x", None, None, FieldType.STRING),
        ("a\nb", None, None, FieldType.TEXT),
        (3, None, None, FieldType.INTEGER),
        (3.5, None, None, FieldType.NUMBER),
        (float("inf"), None, None, FieldType.JSON),
        (True, None, None, FieldType.BOOLEAN),
        ("x", None, ["x", "y"], FieldType.ENUM),
        ([1], None, None, FieldType.JSON),
        (None, None, None, FieldType.JSON),
        ("1", "integer", None, FieldType.INTEGER),
        ("x", "enum", None, FieldType.STRING),  # no options: cannot be a choice
        ("x", "weird-type", None, FieldType.STRING),
    ],
)
def test_type_inference(
    value: object, declared: object, options: object, expected: FieldType
) -> None:
    assert infer_field_type(value, declared, options) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("approved", ["yes", 1, "true", None])
def test_completion_request_is_strict_about_approved(approved: object) -> None:
    with pytest.raises(ValidationError):
        CompletionRequest.model_validate({"approved": approved})


def test_run_event_tolerates_other_time_keys_and_numeric_ids() -> None:
    event = RunEvent.model_validate(
        {"id": 7, "type": "step_started", "timestamp": "2026-11-25T09:00:00+00:00", "data": 3}
    )
    assert event.id == "7"
    assert event.at == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert event.data == {"value": 3}
