"""The generator of realistic tasks: varied, deterministic per seed, and fast in bulk.

Tasks are plain dicts (no model validation), so 100,000 tasks take a few seconds.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta

from .state import EarlierStep, NewTask, StubState, Workflow
from .workflows import (
    CRM_CORRECTION,
    CUSTOMER_EMAIL,
    INDUSTRIES,
    INVENTORY_RECONCILE,
    PR_REVIEW,
    PRIORITIES,
    TICKET_TRIAGE,
    TRIAGE_CATEGORIES,
    WORKFLOWS,
    crm_payload,
)

__all__ = ["TaskGenerator"]

_FIRST = ["Dana", "Marco", "Hannah", "Priya", "Tomás", "Aiko", "Lena", "Kwame", "Sofia", "Omar"]
_LAST = ["Whitfield", "Rossi", "Becker", "Raman", "García", "Sato", "Novak", "Mensah", "Ali"]
# Mailbox-safe spellings ("García" → "garcia"), computed once rather than per task.
_SLUG = {
    name: unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    for name in _FIRST + _LAST
}
_COMPANIES = [
    "Northwind Traders",
    "Blue Harbor Clinics",
    "Globex Logistics",
    "Initech Software",
    "Umbrella Retail",
    "Stark Components",
    "Wayne Freight",
    "Cyberdyne Health",
]
_PRODUCTS = ["blender", "desk lamp", "office chair", "espresso machine", "headphones", "router"]
_REPOS = ["acme/api", "acme/billing", "acme/web", "acme/infra", "acme/mobile"]
_TICKET_SUBJECTS = [
    "Charged twice after upgrading plan",
    "Cannot reset my password",
    "Parcel marked delivered but not received",
    "Export to CSV times out",
    "How do I add a second admin?",
    "API returns 502 since this morning",
]
_REVIEW_NOTES = [
    "a missing null check in the retry loop",
    "an N+1 query in the listing endpoint",
    "an unpinned dependency",
    "a test that sleeps instead of waiting for the event",
    "a log line that prints the request headers",
]

# A draft is what one template yields: the workflow, the task, and the history before it.
_Draft = tuple[Workflow, NewTask, tuple[EarlierStep, ...]]


def _draft_email(rng: random.Random, n: int) -> _Draft:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    product = rng.choice(_PRODUCTS)
    order = f"ORD-{600000 + n}"
    amount = round(rng.uniform(9, 400), 2)
    payload = {
        "title": f"Send reply to {first} {last} about {order}?",
        "description": f"Drafted reply to a refund request for a damaged {product}.",
        "fields": {
            "to": f"{_SLUG[first]}.{_SLUG[last]}@example.com",
            "order_id": order,
            "refund_amount_usd": amount,
            "customer_tier": rng.choice(("bronze", "silver", "gold", "platinum")),
        },
        "editable": {
            "subject": f"Re: Refund for order {order}",
            "body": f"Hi {first},\n\nI'm sorry the {product} arrived damaged. We have refunded "
            f"${amount:.2f} to your original payment method.\n\nBest regards,\nAcme Support",
        },
    }
    history = (
        EarlierStep("classify-inquiry", {"intent": "refund_request"}),
        EarlierStep("draft-reply", {"tokens": rng.randint(150, 600)}),
    )
    return CUSTOMER_EMAIL, NewTask("approve-email", payload, "edit"), history


def _draft_triage(rng: random.Random, n: int) -> _Draft:
    ticket = f"SUP-{50000 + n}"
    category = rng.choice(TRIAGE_CATEGORIES)
    confidence = round(rng.uniform(0.2, 0.74), 2)
    payload = {
        "title": f"Confirm category of ticket {ticket}",
        "description": f"Classifier confidence {confidence} is below the 0.75 threshold.",
        "fields": [
            {"name": "ticket_id", "label": "Ticket", "value": ticket},
            {"name": "subject", "label": "Subject", "value": rng.choice(_TICKET_SUBJECTS)},
            {
                "name": "category",
                "label": "Category",
                "value": category,
                "type": "enum",
                "options": TRIAGE_CATEGORIES,
                "editable": True,
                "required": True,
            },
            {
                "name": "priority",
                "label": "Priority",
                "value": rng.choice(PRIORITIES),
                "type": "enum",
                "options": PRIORITIES,
                "editable": True,
            },
            {"name": "confidence", "label": "Classifier confidence", "value": confidence},
        ],
    }
    history = (
        EarlierStep("ingest-ticket", {"ticket_id": ticket}),
        EarlierStep("classify-ticket", {"category": category, "confidence": confidence}),
    )
    return TICKET_TRIAGE, NewTask("confirm-category", payload, "review"), history


def _draft_crm(rng: random.Random, n: int) -> _Draft:
    company = f"{rng.choice(_COMPANIES)} {rng.choice(('GmbH', 'Ltd', 'Inc.', 'B.V.', 'S.A.'))}"
    slug = company.split()[0].lower()
    confidence = round(rng.uniform(0.45, 0.85), 2)
    payload = crm_payload(
        company,
        employees=rng.randint(5, 5000),
        revenue=float(rng.randint(2, 900) * 100_000),
        existing=rng.random() < 0.3,
        industry=rng.choice(INDUSTRIES),
        email=f"{_SLUG[rng.choice(_FIRST)]}@{slug}.example",
        source=f"msg_{n:06x}",
        confidence=confidence,
    )
    history = (
        EarlierStep("fetch-email", {"source_email_id": f"msg_{n:06x}"}),
        EarlierStep("extract-fields", {"fields": 6, "confidence": confidence}),
    )
    return CRM_CORRECTION, NewTask("review-extraction", payload, "edit"), history


def _draft_pr(rng: random.Random, n: int) -> _Draft:
    repo = rng.choice(_REPOS)
    number = 1500 + n % 9000
    note = rng.choice(_REVIEW_NOTES)
    payload = {
        "title": f"Post review comment on PR #{number}?",
        "description": "The LLM drafted this review. Approve to post it to GitHub.",
        "fields": {
            "repository": repo,
            "pull_request": number,
            "confidence": round(rng.uniform(0.4, 0.95), 2),
        },
        "editable": {"comment_body": f"Looks good overall, but there is {note}."},
    }
    history = (
        EarlierStep("fetch-diff", {"files_changed": rng.randint(1, 40)}),
        EarlierStep("draft-review", {"findings": rng.randint(1, 4)}),
    )
    return PR_REVIEW, NewTask("approve-review", payload), history


def _draft_inventory(rng: random.Random, n: int) -> _Draft:
    system = rng.randint(20, 400)
    counted = max(0, system - rng.randint(-30, 60))
    payload = {
        "sku": f"WH{rng.randint(1, 5)}-{n % 100000:05d}",
        "anomaly": {
            "counts": [{"source": "wms", "qty": system}, {"source": "cycle_count", "qty": counted}],
            "suspected": rng.sample(["mis-scan", "unrecorded return", "theft", "damage"], 2),
        },
        "adjustment": counted - system,
    }
    history = (EarlierStep("cycle-count", {"anomalies": 1}),)
    return INVENTORY_RECONCILE, NewTask("approve-adjustment", payload), history


# Weighted: mostly the common patterns, a few unconventional payloads.
_TEMPLATES: tuple[Callable[[random.Random, int], _Draft], ...] = (
    _draft_email,
    _draft_email,
    _draft_triage,
    _draft_triage,
    _draft_crm,
    _draft_pr,
    _draft_pr,
    _draft_inventory,
)

_MASK48 = (1 << 48) - 1


def _mix48(value: int) -> int:
    """A bijection on 48-bit integers that scatters consecutive inputs (xorshift-multiply)."""
    value &= _MASK48
    value ^= value >> 25
    value = (value * 0x9E3779B97F4B) & _MASK48
    value ^= value >> 24
    value = (value * 0xC2B2AE3D27D5) & _MASK48
    return value ^ (value >> 25)


class TaskGenerator:
    """Makes realistic pending tasks, one new run each, deterministically from ``seed``.

    Successive calls continue the sequence. Run ids come from a bijection of the task's index,
    so they never collide within one generator; ``stream`` separates generators sharing a seed
    (the app's spawner uses its own). Tasks skip model validation: plain dicts are fast.
    """

    def __init__(self, seed: int = 0, *, stream: str = "generated") -> None:
        self._rng = random.Random(f"{stream}:{seed}")
        digest = hashlib.blake2b(f"{stream}:{seed}".encode(), digest_size=6).digest()
        self._salt = int.from_bytes(digest, "big")
        self._index = 0

    def add(self, state: StubState, n: int, *, fresh: bool = False) -> list[tuple[str, str, str]]:
        """Add ``n`` tasks; their ages spread from a minute to a week, or zero if ``fresh``.

        Returns the (workflow_id, run_id, task_id) of each task added.
        """
        for workflow in WORKFLOWS:
            state.add_workflow(workflow)
        rng = self._rng
        now = state.now()
        keys: list[tuple[str, str, str]] = []
        for _ in range(n):
            keys.append(self._add_one(state, rng, now, fresh))
        return keys

    def _add_one(
        self, state: StubState, rng: random.Random, now: datetime, fresh: bool
    ) -> tuple[str, str, str]:
        index = self._index
        self._index += 1
        workflow, task, history = rng.choice(_TEMPLATES)(rng, index)
        run_id = f"run_{_mix48(self._salt + index):012x}"
        # Log-uniform age: many recent tasks, a long tail of stalled ones.
        age = 0.0 if fresh else 60.0 * 10080.0 ** rng.random()
        state.add_run(
            workflow.workflow_id,
            run_id,
            tasks=(task,),
            earlier_steps=history,
            created_at=now - timedelta(seconds=round(age, 3)),
            validate=False,
        )
        return (workflow.workflow_id, run_id, task.task_id)
