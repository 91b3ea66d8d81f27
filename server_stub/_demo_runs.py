"""The demo's runs without human tasks: one or more in every Command Center section.

Times are relative to the state's clock when seeded. With the wall clock the demo moves: the
draining run stops about 16 s after seeding, the queued one starts after 2.5 minutes, the
running ones finish their in-flight steps over the next minutes, and the support digest fails
(``MCP_TOOL_FAILED``) about five minutes in. The nightly warehouse sync is
marked so that a graceful stop of it fails with ``DRAIN_TIMEOUT`` (its load holds a long
transaction): its drain takes 60 s, its drain timeout is 20 s.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .state import EarlierStep, PlannedStep, StubState
from .workflows import (
    CUSTOMER_EMAIL,
    INVOICE_REMINDERS,
    LEAD_ENRICHMENT,
    SUPPORT_DIGEST,
    TICKET_TRIAGE,
    WAREHOUSE_SYNC,
)

__all__ = ["seed_demo_runs"]


def _ago(now: datetime, **amount: float) -> datetime:
    return now - timedelta(**amount)


def seed_demo_runs(state: StubState) -> None:
    """Add 15 runs: 3 running, 1 paused, 1 queued, 1 pending, 1 draining, 6 failed (5 in the
    last 24 hours), 1 stopped, 1 completed."""
    now = state.now()
    add = state.add_run
    extract = EarlierStep("extract-orders", {"rows": 18234, "source": "shop-db"})
    fetch = EarlierStep("fetch-leads", {"leads": 64})
    collect = EarlierStep("collect-tickets", {"tickets": 212})

    # -- running now
    add(
        WAREHOUSE_SYNC.workflow_id,
        "run_3e9a1c77d2b0",
        earlier_steps=[extract],
        created_at=_ago(now, seconds=140),
        started_at=_ago(now, seconds=200),
        steps=[
            PlannedStep("transform-orders", 600, {"rows": 18190, "rejected": 44}),
            PlannedStep("load-warehouse", 900, {"loaded": 18190, "table": "analytics.orders"}),
        ],
        variables={"date": "2026-11-24", "source": "shop-db", "target": "analytics.orders"},
        drain_seconds=60,
        drain_timeout=20,
    )
    add(
        LEAD_ENRICHMENT.workflow_id,
        "run_8b2f4e1a9c63",
        earlier_steps=[fetch],
        created_at=_ago(now, seconds=35),
        started_at=_ago(now, seconds=52),
        steps=[
            PlannedStep("enrich-leads", 420, {"enriched": 61, "not_found": 3}),
            PlannedStep("score-leads", 180, {"hot": 9, "warm": 23, "cold": 29}),
            PlannedStep("update-crm", 120, {"updated": 61}),
        ],
        variables={"segment": "webinar-2026-11", "max_leads": 100},
    )
    add(
        SUPPORT_DIGEST.workflow_id,
        "run_d51c0a8e7f24",
        earlier_steps=[collect],
        created_at=_ago(now, seconds=12),
        started_at=_ago(now, seconds=40),
        steps=[
            PlannedStep("summarize-tickets", 300, {"themes": 6, "tokens": 9180}),
            # It will fail on its own, about five minutes after seeding.
            PlannedStep(
                "post-digest",
                30,
                failure_code="MCP_TOOL_FAILED",
                error="MCP tool 'slack.post_message' returned an error: channel_not_found "
                "(#support-leads was archived)",
            ),
        ],
        variables={"since": "2026-11-24T12:00:00Z", "channel": "#support-leads"},
    )
    # -- paused by an operator 25 minutes ago, before sending the reminders
    add(
        INVOICE_REMINDERS.workflow_id,
        "run_61f7b3d09a2e",
        status="paused",
        earlier_steps=[
            EarlierStep("find-overdue", {"overdue": 37, "total_eur": 84210.5}),
            EarlierStep("draft-reminders", {"drafted": 37}),
        ],
        created_at=_ago(now, minutes=25),
        started_at=_ago(now, minutes=29),
        steps=[PlannedStep("send-reminders", 240, {"sent": 37})],
        variables={"days_overdue": 30, "tone": "friendly"},
    )
    # -- waiting to start
    add(
        WAREHOUSE_SYNC.workflow_id,
        "run_0a4d9e2b7c18",
        status="queued",
        created_at=_ago(now, seconds=30),
        starts_in=180,
        steps=WAREHOUSE_SYNC.run_steps,
        variables={"date": "2026-11-25", "source": "shop-db", "target": "analytics.orders"},
    )
    add(
        LEAD_ENRICHMENT.workflow_id,
        "run_2c7e5b9d1f40",
        status="pending",
        created_at=_ago(now, seconds=5),
        starts_in=600,
        steps=LEAD_ENRICHMENT.run_steps,
        variables={"segment": "trade-fair-leads", "max_leads": 250},
    )
    # -- stopping gracefully: the drain began 4 s ago and takes 20 s
    add(
        LEAD_ENRICHMENT.workflow_id,
        "run_c0b8a6e4f213",
        status="draining",
        earlier_steps=[
            fetch,
            EarlierStep("enrich-leads", {"enriched": 58}),
            EarlierStep("score-leads", {"hot": 4}),
        ],
        created_at=_ago(now, seconds=4),
        started_at=_ago(now, minutes=6),
        steps=[PlannedStep("update-crm", 120, {"updated": 58})],
        drain_seconds=20,
        variables={"segment": "churned-2026-q3", "max_leads": 60},
    )
    # -- failed recently, each with a documented code
    add(
        LEAD_ENRICHMENT.workflow_id,
        "run_9d3a7f1c0e52",
        earlier_steps=[fetch],
        created_at=_ago(now, minutes=35, seconds=42),
        started_at=_ago(now, minutes=36, seconds=5),
        steps=[
            PlannedStep(
                "enrich-leads",
                42,
                failure_code="MCP_TOOL_FAILED",
                error="MCP tool 'clearbit.enrich_company' returned an error: 401 Unauthorized "
                "– the connection 'clearbit-prod' needs to be re-authorised",
            )
        ],
        variables={"segment": "newsletter-signups", "max_leads": 200},
    )
    add(
        SUPPORT_DIGEST.workflow_id,
        "run_5f0e2d8b4a17",
        earlier_steps=[collect],
        created_at=_ago(now, hours=2, seconds=9),
        started_at=_ago(now, hours=2, seconds=31),
        steps=[
            PlannedStep(
                "summarize-tickets",
                9,
                failure_code="LLM_REQUEST_FAILED",
                error="LLM request to openai/gpt-4o failed: 401 invalid_api_key "
                "(the workspace key 'openai-support' was revoked)",
            )
        ],
        variables={"since": "2026-11-24T10:00:00Z", "channel": "#support-leads"},
    )
    add(
        CUSTOMER_EMAIL.workflow_id,
        "run_e4c19a7b2d08",
        earlier_steps=[EarlierStep("classify-inquiry", {"intent": "refund_request"})],
        created_at=_ago(now, hours=5, seconds=2),
        steps=[
            PlannedStep(
                "draft-reply",
                2,
                failure_code="INSUFFICIENT_CREDITS",
                error="workspace 'demo' is out of credits: the LLM step needs about 1,200 "
                "credits and 0 of 50,000 are left this month",
            )
        ],
        variables={"inbox": "support@acme.example", "message_id": "msg_88f9d1"},
    )
    add(
        WAREHOUSE_SYNC.workflow_id,
        "run_7b5d3f9e1a26",
        earlier_steps=[extract, EarlierStep("transform-orders", {"rows": 17422})],
        created_at=_ago(now, hours=9, minutes=30),
        started_at=_ago(now, hours=9, minutes=34),
        steps=[
            PlannedStep(
                "load-warehouse",
                1800,
                failure_code="RUN_STALLED_OR_TIMED_OUT",
                error="no progress for 30 minutes in step 'load-warehouse' (timeout window "
                "30 min): the warehouse stopped answering",
            )
        ],
        variables={"date": "2026-11-24", "source": "shop-db", "target": "analytics.orders"},
    )
    # An operator stopped it gracefully 14 hours ago; the send step did not drain in 30 s.
    add(
        INVOICE_REMINDERS.workflow_id,
        "run_a2e8c4f60b19",
        status="draining",
        earlier_steps=[
            EarlierStep("find-overdue", {"overdue": 52}),
            EarlierStep("draft-reminders", {"drafted": 52}),
        ],
        created_at=_ago(now, hours=14),
        started_at=_ago(now, hours=14, minutes=6),
        steps=[PlannedStep("send-reminders", 300, {"sent": 52})],
        drain_seconds=120,
        drain_timeout=30,
        variables={"days_overdue": 14, "tone": "firm"},
    )
    # Older than a day: not in "Failed recently".
    add(
        TICKET_TRIAGE.workflow_id,
        "run_38f1b6d2c9e4",
        created_at=_ago(now, days=2, hours=1, seconds=12),
        steps=[
            PlannedStep(
                "ingest-ticket",
                12,
                failure_code="UPSTREAM_ERROR",
                error="Zendesk answered 503 Service Unavailable for 12 minutes",
            )
        ],
        variables={"ticket_id": "SUP-47702"},
    )
    # -- stopped and completed
    add(
        SUPPORT_DIGEST.workflow_id,
        "run_46d0b9e3a7f5",
        status="stopped",
        earlier_steps=[collect],
        created_at=_ago(now, minutes=50),
        started_at=_ago(now, minutes=52),
        error="stopped by an operator (immediate stop)",
        variables={"since": "2026-11-24T11:00:00Z", "channel": "#support-test"},
    )
    add(
        WAREHOUSE_SYNC.workflow_id,
        "run_f3a6c8e1d094",
        status="completed",
        earlier_steps=[
            extract,
            EarlierStep("transform-orders", {"rows": 18190, "rejected": 44}),
            EarlierStep("load-warehouse", {"loaded": 18190, "table": "analytics.orders"}),
        ],
        created_at=_ago(now, hours=6),
        started_at=_ago(now, hours=6, minutes=7),
        variables={"date": "2026-11-23", "source": "shop-db", "target": "analytics.orders"},
    )
