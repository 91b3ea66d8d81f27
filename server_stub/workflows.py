"""The stub's workflows: what runs after each decision, and the vocabulary their payloads share.

They follow the patterns the platform documents for human tasks – approve before sending an
LLM-drafted email, escalate a low-confidence classification, correct extracted data – plus the
PR review assistant of API.md and two more shapes (a run waiting on two people; a payload that
follows no convention). The demo and the generator both build on them, so completing any served
task resumes its run with plausible downstream steps.
"""

from __future__ import annotations

from typing import Any

from .state import DownstreamStep, Workflow

__all__ = [
    "CONTRACT_REVIEW",
    "CRM_CORRECTION",
    "CUSTOMER_EMAIL",
    "INDUSTRIES",
    "INVENTORY_RECONCILE",
    "PRIORITIES",
    "PR_REVIEW",
    "TICKET_TRIAGE",
    "TRIAGE_CATEGORIES",
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
