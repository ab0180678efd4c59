"""Small workflows for engine tests, published the way a designer publishes them."""

from typing import Any

from ticketflower.accounts.models import User
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.definitions.services import bundle_import, workflow_publish
from ticketflower.runtime.models import TaskInstance, TicketInstance
from ticketflower.tenancy.context import company_context


def form(key: str, output: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    properties = output or {}
    return {
        "key": key,
        "title": key.replace("_", " ").capitalize(),
        "type": "FORM",
        "output_schema": {"type": "object", "properties": properties},
        **extra,
    }


def review_bundle(**changes: Any) -> dict[str, Any]:
    """Submit an item; someone reviews it; approved goes to "order", rejected to "decline"."""
    bundle: dict[str, Any] = {
        "workflow": {
            "title": changes.pop("title", "Review"),
            "fields": [
                {"name": "item", "type": "text", "label": "Item", "required": True},
                {"name": "count", "type": "integer", "label": "How many"},
                {"name": "urgent", "type": "boolean", "label": "Urgent"},
                {"name": "approved", "type": "boolean", "label": "Approved"},
                {"name": "order_number", "type": "text", "label": "Order number"},
            ],
            "tasks": [
                form("review", {"approved": {"type": "boolean"}}, input_schema={"properties": {"item": {}}}),
                form("order", {"order_number": {"type": "string"}}),
                form("decline"),
            ],
            "transitions": [
                {"from": None, "to": "review"},
                {"from": "review", "to": "order", "condition": "data.approved", "priority": 0},
                {"from": "review", "to": "decline", "condition": "!data.approved", "priority": 1},
            ],
        },
        "ticket_types": [
            {
                "title": changes.pop("ticket_type", "Ask for something"),
                "fields": [{"field": "item"}, {"field": "count"}, {"field": "urgent", "preset": False}],
            }
        ],
    }
    bundle["workflow"].update(changes)
    return bundle


def publish(designer: User, bundle: dict[str, Any]) -> ReleaseTicketType:
    imported = bundle_import(actor=designer, bundle=bundle)
    assert imported.workflow is not None, imported.problems
    release = workflow_publish(actor=designer, workflow=imported.workflow).release
    assert release is not None
    with company_context(designer.company):  # type: ignore[arg-type]
        ticket_type: ReleaseTicketType = release.ticket_types.get(position=0)
    return ticket_type


def tasks_of(ticket: TicketInstance) -> list[TaskInstance]:
    with company_context(ticket.company):
        return list(TaskInstance.objects.filter(workflow_instance=ticket.workflow_instance_id).order_by("pk"))


def current(ticket: TicketInstance) -> TaskInstance:
    return tasks_of(ticket)[-1]


def task_of(ticket: TicketInstance, key: str) -> TaskInstance:
    """The run's task `key`, as the database has it now."""
    with company_context(ticket.company):
        task: TaskInstance = TaskInstance.objects.get(
            workflow_instance=ticket.workflow_instance_id, task_key=key
        )
        return task


def run_of(ticket: TicketInstance) -> Any:
    """The ticket's run, as the database has it now."""
    with company_context(ticket.company):
        ticket.workflow_instance.refresh_from_db()  # type: ignore[union-attr]
    return ticket.workflow_instance
