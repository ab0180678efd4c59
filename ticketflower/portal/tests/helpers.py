"""Workflows and tickets for the portal's tests, made through the services as people make them."""

import copy
from typing import Any

from django.utils import timezone

from ticketflower.accounts.models import User
from ticketflower.definitions.models import ReleaseTicketType, WorkflowDefinition
from ticketflower.definitions.services import bundle_import, workflow_publish
from ticketflower.runtime.models import EventKind, TicketEvent, TicketInstance, WorkflowInstance
from ticketflower.runtime.services import ticket_submit
from ticketflower.runtime.tests.workflows import form, publish, review_bundle
from ticketflower.tenancy.context import company_context


def every_kind_bundle(title: str = "Everything") -> dict[str, Any]:
    """A workflow whose ticket type asks one field of each kind a person reads differently."""
    return {
        "workflow": {
            "title": title,
            "fields": [
                {"name": "summary", "type": "text", "label": "Summary", "required": True},
                {
                    "name": "details",
                    "type": "long_text",
                    "label": "Details",
                    "help_text": "Say <b>everything</b>",
                },
                {"name": "urgent", "type": "boolean", "label": "Urgent"},
                {"name": "needed_by", "type": "date", "label": "Needed by"},
                {
                    "name": "tags",
                    "type": "multi_choice",
                    "label": "Tags",
                    "options": ["red", "green", "blue"],
                },
                {"name": "site", "type": "url", "label": "Web page"},
                {"name": "desk", "type": "text", "label": "Desk"},
                {"name": "note", "type": "text", "label": "Note from the approver"},
            ],
            "tasks": [form("check", {"note": {"type": "string"}})],
            "transitions": [{"from": None, "to": "check"}],
        },
        "ticket_types": [
            {
                "title": f"{title} request",
                "description": "Ask for anything at all.",
                "ext_ref": [
                    {"label": "Our policy", "uri": "https://intranet.example.com/policy"},
                    {"label": "Sneaky", "uri": "javascript:alert(1)"},
                ],
                "fields": [
                    {"field": "summary"},
                    {"field": "details"},
                    {"field": "urgent"},
                    {"field": "needed_by"},
                    {"field": "tags"},
                    {"field": "site"},
                    {"field": "desk", "preset": "Front desk 7"},
                ],
            }
        ],
    }


def publish_review(designer: User, **changes: Any) -> ReleaseTicketType:
    """The engine tests' review workflow: item (required), count, and urgent preset to false."""
    return publish(designer, review_bundle(**changes))


def submit(user: User, ticket_type: ReleaseTicketType, **data: Any) -> TicketInstance:
    return ticket_submit(ticket_type=ticket_type, submitted_by=user, data=data or {"item": "Laptop"})


def set_run(ticket: TicketInstance, status: str, error: str = "") -> None:
    """Put the ticket's run in `status` as the engine would leave it (a test shortcut)."""
    with company_context(ticket.company):
        WorkflowInstance.objects.filter(pk=ticket.workflow_instance_id).update(
            status=status, error=error, updated_at=timezone.now()
        )


def add_event(ticket: TicketInstance, kind: EventKind, message: str = "", **details: Any) -> None:
    with company_context(ticket.company):
        TicketEvent.objects.create(
            ticket=ticket, kind=kind, message=message, details=details, actor_label="TicketFlower"
        )


def publish_again(
    designer: User, ticket_type: ReleaseTicketType, **workflow_changes: Any
) -> ReleaseTicketType:
    """A new release of `ticket_type`'s workflow (its description changed), and the type in it."""
    with company_context(ticket_type.company):
        workflow = WorkflowDefinition.objects.get(pk=ticket_type.release.workflow_id)
        bundle = copy.deepcopy(ticket_type.release.bundle)
    bundle["workflow"]["description"] = f"{bundle['workflow'].get('description') or ''} (changed)"
    bundle["workflow"].update(workflow_changes)
    bundle_import(actor=designer, bundle=bundle, into=workflow)
    release = workflow_publish(actor=designer, workflow=workflow).release
    assert release is not None and release.pk != ticket_type.release_id
    with company_context(ticket_type.company):
        latest: ReleaseTicketType = release.ticket_types.get(position=ticket_type.position)
    return latest
