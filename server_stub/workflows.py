"""The stub's workflows: what runs after each decision, and the vocabulary their payloads share.

They follow the patterns the platform documents for human tasks – approve before sending an
LLM-drafted email, escalate a low-confidence classification, correct extracted data – plus the
PR review assistant of API.md and two more shapes (a run waiting on two people; a payload that
follows no convention). The demo and the generator both build on them, so completing any served
task resumes its run with plausible downstream steps.

``RUN_WORKFLOWS`` have no human step: agent runs that only move through timed steps (MCP tool
calls, LLM calls, plain code). They fill the Command Center's other sections – running, paused,
queued, draining, failed – and the ``start`` command runs their ``run_steps``.
"""

from __future__ import annotations

from typing import Any

from .state import DownstreamStep, PlannedStep, Workflow

__all__ = [
    "CONTRACT_REVIEW",
    "CRM_CORRECTION",
    "CUSTOMER_EMAIL",
    "INDUSTRIES",
    "INVENTORY_RECONCILE",
    "INVOICE_REMINDERS",
    "LEAD_ENRICHMENT",
    "PRIORITIES",
    "PR_REVIEW",
    "RUN_WORKFLOWS",
    "STEP_TOOLS",
    "SUPPORT_DIGEST",
    "TICKET_TRIAGE",
    "TRIAGE_CATEGORIES",
    "WAREHOUSE_SYNC",
    "WORKFLOWS",
    "crm_payload",
]

CUSTOMER_EMAIL = Workflow(
    "wf_customer_reply",
    "Customer reply drafter",
    on_approve=(DownstreamStep("send-email", ("to", "subject", "body"), {"delivered": True}),),
    on_reject=(DownstreamStep("discard-draft", ("to", "reason"), {"discarded": True}),),
)
TICKET_TRIAGE = Workflow(
    "wf_ticket_triage",
    "Support ticket triage",
    on_approve=(
        DownstreamStep("route-ticket", ("ticket_id", "category", "priority"), {"routed": True}),
    ),
    on_reject=(
        DownstreamStep("return-to-queue", ("ticket_id", "reason"), {"queue": "manual-triage"}),
    ),
)
_CRM_VALUES = (
    "company_name",
    "employee_count",
    "annual_revenue_usd",
    "existing_customer",
    "industry",
    "contact_email",
)
CRM_CORRECTION = Workflow(
    "wf_crm_extraction",
    "CRM record extraction",
    on_approve=(DownstreamStep("update-crm", _CRM_VALUES, {"updated": True}),),
    on_reject=(
        DownstreamStep("flag-for-manual-entry", ("source_email_id", "reason"), {"flagged": True}),
    ),
)
PR_REVIEW = Workflow(
    "wf_pr_review",
    "PR review assistant",
    on_approve=(
        DownstreamStep(
            "post-review-comment", ("repository", "pull_request", "comment_body"), {"posted": True}
        ),
    ),
    on_reject=(
        DownstreamStep(
            "notify-author", ("repository", "pull_request", "reason"), {"notified": True}
        ),
    ),
)
CONTRACT_REVIEW = Workflow(
    "wf_vendor_contract",
    "Vendor contract sign-off",
    on_approve=(
        DownstreamStep(
            "countersign-contract", ("vendor", "redlines", "approved_amount_eur"), {"signed": True}
        ),
    ),
    on_reject=(DownstreamStep("notify-requester", ("vendor", "reason"), {"notified": True}),),
)
INVENTORY_RECONCILE = Workflow(
    "wf_inventory_reconcile",
    "Inventory reconciliation",
    on_approve=(DownstreamStep("apply-adjustment", ("sku", "adjustment"), {"applied": True}),),
    on_reject=(DownstreamStep("open-investigation", ("sku", "reason"), {"opened": True}),),
)
WORKFLOWS: tuple[Workflow, ...] = (
    CUSTOMER_EMAIL,
    TICKET_TRIAGE,
    CRM_CORRECTION,
    PR_REVIEW,
    CONTRACT_REVIEW,
    INVENTORY_RECONCILE,
)

WAREHOUSE_SYNC = Workflow(
    "wf_warehouse_sync",
    "Nightly warehouse sync",
    run_steps=(
        PlannedStep("extract-orders", 45, {"rows": 18234, "source": "shop-db"}),
        PlannedStep("transform-orders", 120, {"rows": 18190, "rejected": 44}),
        PlannedStep("load-warehouse", 180, {"loaded": 18190, "table": "analytics.orders"}),
    ),
)
LEAD_ENRICHMENT = Workflow(
    "wf_lead_enrichment",
    "Lead enrichment",
    run_steps=(
        PlannedStep("fetch-leads", 15, {"leads": 64}),
        PlannedStep("enrich-leads", 90, {"enriched": 61, "not_found": 3}),
        PlannedStep("score-leads", 40, {"hot": 9, "warm": 23, "cold": 29}),
        PlannedStep("update-crm", 20, {"updated": 61}),
    ),
)
SUPPORT_DIGEST = Workflow(
    "wf_support_digest",
    "Daily support digest",
    run_steps=(
        PlannedStep("collect-tickets", 20, {"tickets": 212}),
        PlannedStep("summarize-tickets", 75, {"themes": 6, "tokens": 9180}),
        PlannedStep("post-digest", 8, {"channel": "#support-leads", "posted": True}),
    ),
)
INVOICE_REMINDERS = Workflow(
    "wf_invoice_reminders",
    "Invoice reminder agent",
    run_steps=(
        PlannedStep("find-overdue", 25, {"overdue": 37, "total_eur": 84210.5}),
        PlannedStep("draft-reminders", 110, {"drafted": 37}),
        PlannedStep("send-reminders", 60, {"sent": 37}),
    ),
)
RUN_WORKFLOWS: tuple[Workflow, ...] = (
    WAREHOUSE_SYNC,
    LEAD_ENRICHMENT,
    SUPPORT_DIGEST,
    INVOICE_REMINDERS,
)
# What each step of those workflows calls: an MCP tool (by name), an LLM ("llm"), or code.
STEP_TOOLS: dict[str, str] = {
    "extract-orders": "postgres.query",
    "transform-orders": "code",
    "load-warehouse": "bigquery.insert_rows",
    "fetch-leads": "hubspot.search_contacts",
    "enrich-leads": "clearbit.enrich_company",
    "score-leads": "llm",
    "update-crm": "hubspot.update_contact",
    "collect-tickets": "zendesk.search_tickets",
    "summarize-tickets": "llm",
    "post-digest": "slack.post_message",
    "find-overdue": "code",
    "draft-reminders": "llm",
    "send-reminders": "gmail.send_email",
}

TRIAGE_CATEGORIES = ["billing", "technical", "account", "shipping", "other"]
PRIORITIES = ["low", "normal", "high", "urgent"]
INDUSTRIES = ["manufacturing", "retail", "logistics", "software", "healthcare", "finance"]


def crm_payload(
    company: str,
    *,
    employees: int = 240,
    revenue: float = 18_500_000.0,
    existing: bool = False,
    industry: str = "logistics",
    email: str = "j.keller@northwind.example",
    source: str = "msg_8841ab",
    confidence: float = 0.77,
) -> dict[str, Any]:
    """A data-correction payload: typed, editable fields in the list form of the convention."""
    return {
        "title": f"Check CRM fields extracted for {company}",
        "description": "Extracted from an inbound sales email. Correct anything wrong before the "
        "account is written to the CRM.",
        "fields": [
            {
                "name": "company_name",
                "label": "Company",
                "value": company,
                "type": "string",
                "editable": True,
                "required": True,
            },
            {
                "name": "employee_count",
                "label": "Employees",
                "value": employees,
                "type": "integer",
                "editable": True,
            },
            {
                "name": "annual_revenue_usd",
                "label": "Annual revenue (USD)",
                "value": revenue,
                "type": "number",
                "editable": True,
            },
            {
                "name": "existing_customer",
                "label": "Existing customer",
                "value": existing,
                "type": "boolean",
                "editable": True,
            },
            {
                "name": "industry",
                "label": "Industry",
                "value": industry,
                "type": "enum",
                "options": INDUSTRIES,
                "editable": True,
                "required": True,
            },
            {
                "name": "contact_email",
                "label": "Contact email",
                "value": email,
                "type": "string",
                "editable": True,
            },
            {"name": "source_email_id", "label": "Source email", "value": source},
            {"name": "extraction_confidence", "label": "Confidence", "value": confidence},
        ],
    }
