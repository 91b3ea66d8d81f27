"""The demo seed's data: a dozen tasks that show every shape the console must handle.

Kept apart from ``scenarios`` because it is long and only data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .state import EarlierStep, NewTask, Workflow
from .workflows import (
    CONTRACT_REVIEW,
    CRM_CORRECTION,
    CUSTOMER_EMAIL,
    INVENTORY_RECONCILE,
    PR_REVIEW,
    PRIORITIES,
    TICKET_TRIAGE,
    TRIAGE_CATEGORIES,
    crm_payload,
)

__all__ = ["DemoRun", "demo_runs"]

_PR_DESCRIPTION = """\
## Summary

The assistant reviewed **acme/billing#1398** (*Switch invoice rounding to banker's rounding*)
and drafted the comment below. Two findings need a human eye before it is posted.

## Findings

1. `round_half_even` is applied to line items **and** to the total, so totals can differ
   from the sum of the lines by one cent.
2. The migration rewrites historical invoices; the PR description says it must not.
   - affects 14,203 invoices issued before 2026-01-01
   - no feature flag guards the change

### Suggested fix

```python
def invoice_total(lines: list[Line]) -> Decimal:
    # Round once, at the end: never the sum of rounded lines.
    raw = sum((line.net for line in lines), Decimal(0))
    return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
```

## Checks

- [x] unit tests pass (412/412)
- [ ] migration dry-run on a staging copy
- [ ] finance sign-off

> Confidence is moderate (0.58): the rounding finding is certain, the migration one depends on
> how `backfill_invoices` is scheduled.
"""


def _email_body(name: str, lines: list[str], signature: str = "Sam, Acme Support") -> str:
    return f"Hi {name},\n\n" + "\n\n".join(lines) + f"\n\nBest regards,\n{signature}"


@dataclass(frozen=True, slots=True)
class DemoRun:
    """One seeded run: its workflow, id, age at seeding, human tasks and earlier steps."""

    workflow: Workflow
    run_id: str
    age: timedelta
    tasks: tuple[NewTask, ...]
    earlier: tuple[EarlierStep, ...]


def demo_runs() -> list[DemoRun]:
    email_steps = (
        EarlierStep("classify-inquiry", {"intent": "refund_request", "confidence": 0.93}),
        EarlierStep("draft-reply", {"model": "gpt-4o-mini", "tokens": 412}),
    )
    return [
        DemoRun(
            CUSTOMER_EMAIL,
            "run_c1a7e2f04b19",
            timedelta(minutes=4),
            (
                NewTask(
                    "approve-email",
                    {
                        "title": "Send reply to Dana Whitfield about refund for ORD-558102?",
                        "description": "The LLM drafted a reply to a refund request. Check the "
                        "amount and the tone before it goes out.",
                        "fields": {
                            "to": "dana.whitfield@example.com",
                            "customer_tier": "gold",
                            "order_id": "ORD-558102",
                            "refund_amount_usd": 129.99,
                            "sentiment": "frustrated",
                        },
                        "editable": {
                            "subject": "Re: Refund for order ORD-558102",
                            "body": _email_body(
                                "Dana",
                                [
                                    "I'm sorry the blender arrived damaged. I've issued a full "
                                    "refund of $129.99 to your original payment method.",
                                    "You should see it within 3–5 business days. There's no "
                                    "need to send the item back.",
                                ],
                            ),
                        },
                    },
                    task_type="edit",
                ),
            ),
            email_steps,
        ),
        DemoRun(
            CUSTOMER_EMAIL,
            "run_5be09d3a7c61",
            timedelta(hours=1, minutes=20),
            (
                NewTask(
                    "approve-email",
                    {
                        "title": "Send shipping-delay apology to Marco Rossi?",
                        "description": "Order ORD-557311 missed its delivery date. The draft "
                        "offers a 10% voucher, which needs approval above silver tier.",
                        "fields": {
                            "to": "marco.rossi@example.it",
                            "customer_tier": "platinum",
                            "order_id": "ORD-557311",
                            "carrier": "DHL Express",
                            "days_late": 3,
                        },
                        "editable": {
                            "subject": "Your order ORD-557311 is on its way",
                            "body": _email_body(
                                "Marco",
                                [
                                    "Your parcel was held at the Milan hub and is now moving "
                                    "again; DHL expects to deliver it on Thursday.",
                                    "As an apology, here is a 10% voucher for your next order: "
                                    "SORRY-10-MR7Q.",
                                ],
                            ),
                        },
                    },
                    task_type="edit",
                ),
            ),
            (
                EarlierStep("classify-inquiry", {"intent": "delivery_status", "confidence": 0.88}),
                EarlierStep("lookup-shipment", {"status": "in_transit", "eta": "2026-11-26"}),
                EarlierStep("draft-reply", {"model": "gpt-4o-mini", "tokens": 377}),
            ),
        ),
        DemoRun(
            CUSTOMER_EMAIL,
            "run_a93f61d20e8c",
            timedelta(days=2, hours=3),
            (
                NewTask(
                    "approve-email",
                    {
                        "title": "Answer Hannah Becker's question about invoice INV-2026-0912?",
                        "fields": {
                            "to": "h.becker@example.de",
                            "customer_tier": "silver",
                            "invoice": "INV-2026-0912",
                        },
                        "editable": {
                            "subject": "Re: Question about invoice INV-2026-0912",
                            "body": _email_body(
                                "Hannah",
                                [
                                    "The second line on the invoice is the annual support "
                                    "plan you added on 2 October; it renews yearly.",
                                    "If you would rather cancel it, reply to this email and "
                                    "we will refund the prorated amount.",
                                ],
                            ),
                        },
                    },
                    task_type="edit",
                ),
            ),
            (
                EarlierStep("classify-inquiry", {"intent": "billing_question", "confidence": 0.9}),
                EarlierStep("draft-reply", {"model": "gpt-4o-mini", "tokens": 298}),
            ),
        ),
        DemoRun(
            TICKET_TRIAGE,
            "run_0d4e8b2f9a71",
            timedelta(minutes=12),
            (
                NewTask(
                    "confirm-category",
                    {
                        "title": "Confirm category of ticket SUP-48213",
                        "description": "The classifier's confidence (0.41) is below the 0.75 "
                        "threshold, so a person confirms the category before the ticket is "
                        "routed.",
                        "fields": [
                            {"name": "ticket_id", "label": "Ticket", "value": "SUP-48213"},
                            {
                                "name": "subject",
                                "label": "Subject",
                                "value": "Charged twice after upgrading plan",
                            },
                            {
                                "name": "excerpt",
                                "label": "Customer wrote",
                                "value": "I upgraded to Team on Monday and my card was charged "
                                "twice.\nAlso the old seats still show up in the admin panel – "
                                "is my account broken?",
                                "multiline": True,
                            },
                            {
                                "name": "category",
                                "label": "Category",
                                "value": "billing",
                                "type": "enum",
                                "options": TRIAGE_CATEGORIES,
                                "required": True,
                            },
                            {
                                "name": "priority",
                                "label": "Priority",
                                "value": "high",
                                "type": "enum",
                                "options": PRIORITIES,
                            },
                            {
                                "name": "confidence",
                                "label": "Classifier confidence",
                                "value": 0.41,
                                "type": "number",
                            },
                        ],
                        "editable": ["category", "priority"],
                    },
                    task_type="review",
                ),
            ),
            (
                EarlierStep("ingest-ticket", {"ticket_id": "SUP-48213", "channel": "email"}),
                EarlierStep(
                    "classify-ticket",
                    {"category": "billing", "confidence": 0.41, "runner_up": "account"},
                ),
            ),
        ),
        DemoRun(
            TICKET_TRIAGE,
            "run_e27c5a90b3d4",
            timedelta(hours=6),
            (
                NewTask(
                    "confirm-category",
                    {
                        "title": "Confirm category of ticket SUP-48190",
                        "description": "Low confidence (0.58): the ticket mentions both an "
                        "outage and a refund.",
                        "fields": [
                            {"name": "ticket_id", "label": "Ticket", "value": "SUP-48190"},
                            {
                                "name": "subject",
                                "label": "Subject",
                                "value": "API returns 502 since this morning – refund?",
                            },
                            {
                                "name": "category",
                                "label": "Category",
                                "value": "technical",
                                "type": "enum",
                                "options": TRIAGE_CATEGORIES,
                                "editable": True,
                                "required": True,
                            },
                            {
                                "name": "priority",
                                "label": "Priority",
                                "value": "urgent",
                                "type": "enum",
                                "options": PRIORITIES,
                                "editable": True,
                            },
                            {
                                "name": "confidence",
                                "label": "Classifier confidence",
                                "value": 0.58,
                            },
                            {
                                "name": "alternatives",
                                "label": "Other candidates",
                                "value": [{"billing": 0.31}, {"account": 0.07}],
                            },
                        ],
                    },
                    task_type="review",
                ),
            ),
            (
                EarlierStep("ingest-ticket", {"ticket_id": "SUP-48190", "channel": "web"}),
                EarlierStep("classify-ticket", {"category": "technical", "confidence": 0.58}),
            ),
        ),
        DemoRun(
            CRM_CORRECTION,
            "run_7a1d3c9e6f02",
            timedelta(minutes=35),
            (NewTask("review-extraction", crm_payload("Northwind Traders GmbH"), "edit"),),
            (
                EarlierStep("fetch-email", {"source_email_id": "msg_8841ab"}),
                EarlierStep("extract-fields", {"fields": 6, "confidence": 0.77}),
            ),
        ),
        DemoRun(
            CRM_CORRECTION,
            "run_b6f20e4d8c35",
            timedelta(days=1, hours=2),
            (
                NewTask(
                    "review-extraction",
                    crm_payload(
                        "Blue Harbor Clinics",
                        employees=57,
                        revenue=4_200_000.0,
                        existing=True,
                        industry="healthcare",
                        email="ops@blueharbor.example",
                        source="msg_88f2c0",
                        confidence=0.64,
                    ),
                    "edit",
                ),
            ),
            (
                EarlierStep("fetch-email", {"source_email_id": "msg_88f2c0"}),
                EarlierStep("extract-fields", {"fields": 6, "confidence": 0.64}),
            ),
        ),
        DemoRun(
            PR_REVIEW,
            "run_7f3a9c1e5b2d",
            # With the tests' clock (12:00:00Z) this is API.md's 09:14:03.120Z exactly.
            timedelta(hours=2, minutes=45, seconds=56, milliseconds=880),
            (
                NewTask(
                    "approve-review",
                    {
                        "title": "Post review comment on PR #1432?",
                        "description": "The LLM drafted this review. Approve to post it to GitHub.",
                        "fields": {
                            "repository": "acme/api",
                            "pull_request": 1432,
                            "confidence": 0.62,
                        },
                        "editable": {"comment_body": "Looks good overall, but …"},
                    },
                ),
            ),
            (
                EarlierStep("fetch-diff", {"files_changed": 7, "additions": 212, "deletions": 48}),
                EarlierStep("draft-review", {"model": "claude-sonnet", "findings": 2}),
            ),
        ),
        DemoRun(
            PR_REVIEW,
            "run_29d8e7a4c0f6",
            timedelta(days=3, hours=4),
            (
                NewTask(
                    "approve-review",
                    {
                        "title": "Post review comment on PR #1398?",
                        "description": _PR_DESCRIPTION,
                        "fields": {
                            "repository": "acme/billing",
                            "pull_request": 1398,
                            "author": "j-okafor",
                            "confidence": 0.58,
                        },
                        "editable": {
                            "comment_body": "Thanks for this! Two things before we merge:\n\n"
                            "1. Round once, on the total – rounding each line makes totals "
                            "drift by a cent.\n2. The migration rewrites invoices issued before "
                            "2026; please guard it behind a flag.",
                        },
                    },
                ),
            ),
            (
                EarlierStep("fetch-diff", {"files_changed": 3, "additions": 64, "deletions": 19}),
                EarlierStep("draft-review", {"model": "claude-sonnet", "findings": 2}),
            ),
        ),
        DemoRun(
            CONTRACT_REVIEW,
            "run_4c8b1f6e2a93",
            timedelta(hours=5),
            (
                NewTask(
                    "legal-review",
                    {
                        "title": "Legal review: Globex Logistics master services agreement",
                        "description": "The LLM compared the vendor's draft with our template "
                        "and proposed redlines.",
                        "fields": {
                            "vendor": "Globex Logistics B.V.",
                            "contract_value_eur": 48000,
                            "term_months": 24,
                            "auto_renewal": True,
                        },
                        "editable": {
                            "redlines": "§7.2 Liability cap: 12 months of fees, not 3.\n"
                            "§11 Termination for convenience: 60 days' notice, both parties.\n"
                            "§14 Governing law: Netherlands (accepted).",
                        },
                    },
                    task_type="edit",
                ),
                NewTask(
                    "budget-approval",
                    {
                        "title": "Approve €48,000 for Globex Logistics (24 months)?",
                        "fields": {
                            "vendor": "Globex Logistics B.V.",
                            "cost_center": "CC-4410 Operations",
                            "budget_remaining_eur": 61250.0,
                        },
                        "editable": {"approved_amount_eur": 48000},
                    },
                ),
            ),
            (
                EarlierStep("parse-contract", {"pages": 18, "clauses": 41}),
                EarlierStep("compare-to-template", {"deviations": 3}),
            ),
        ),
        DemoRun(
            INVENTORY_RECONCILE,
            "run_f0e1d2c3b4a5",
            timedelta(days=4, hours=6),
            (
                # Follows no convention at all: no title, no fields; shown as raw JSON.
                NewTask(
                    "approve-adjustment",
                    {
                        "sku": "WH2-88431",
                        "anomaly": {
                            "warehouse": "Rotterdam-2",
                            "counts": [
                                {"source": "wms", "qty": 140, "at": "2026-11-20T22:00:00Z"},
                                {"source": "cycle_count", "qty": 112, "by": "scanner-17"},
                            ],
                            "suspected": ["mis-scan", "unrecorded return", None],
                        },
                        "thresholds": {"abs": 10, "pct": 0.05},
                        "adjustment": -28,
                        "tags": ["q4", "cycle-count"],
                        "notes": None,
                    },
                ),
            ),
            (EarlierStep("cycle-count", {"skus": 1840, "anomalies": 1}),),
        ),
    ]
