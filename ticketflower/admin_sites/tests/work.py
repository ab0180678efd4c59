"""Tickets and tasks in the states the work pages deal with, made through the services or the database."""

from typing import Any

from django.utils import timezone

from conftest import Tenant
from ticketflower.accounts.models import User
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.runtime import services
from ticketflower.runtime.models import (
    Assignment,
    EventKind,
    TaskInstance,
    TaskStatus,
    TicketEvent,
    TicketInstance,
    WorkflowInstance,
    WorkflowStatus,
)
from ticketflower.runtime.tests.workflows import current, publish, review_bundle
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole

INSTRUCTIONS = "Check the item against the budget.\nAsk the requester if unsure."


def review_ticket(tenant: Tenant, *, worker: User | None = None, **data: Any) -> TicketInstance:
    """A ticket waiting at "review" (approved: required boolean), given to `worker` (default the worker).

    The workflow is published with the company's first such ticket.
    """
    bundle = review_bundle()
    review = bundle["workflow"]["tasks"][0]
    review["description"] = INSTRUCTIONS
    review["output_schema"]["required"] = ["approved"]
    review["ext_ref"] = [
        {"label": "Budget rules", "description": "who may buy what", "uri": "https://intranet.test/budget"},
        {"label": "Sneaky", "uri": "javascript:alert(1)"},
    ]
    with company_context(tenant.company):
        ticket_type = ReleaseTicketType.objects.filter(release__workflow__title="Review").first()
    if ticket_type is None:
        ticket_type = publish(tenant.designer, bundle)
    ticket = services.ticket_submit(
        ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "Desk", "count": 2, **data}
    )
    give(current(ticket), worker or tenant.worker)
    return ticket


def give(task: TaskInstance, worker: User) -> None:
    with company_context(task.company):
        TaskInstance.objects.filter(pk=task.pk).update(
            assigned_to=worker, status=TaskStatus.OPEN, assigned_at=timezone.now()
        )


def to_pool(task: TaskInstance, *, role: CompanyRole | None = None) -> TaskInstance:
    """Put `task` in the pool (for `role`'s members only, if given)."""
    with company_context(task.company):
        TaskInstance.objects.filter(pk=task.pk).update(
            status=TaskStatus.PENDING,
            assigned_to=None,
            assigned_at=None,
            assignment=Assignment.POOL,
            worker_role=role,
        )
        return TaskInstance.objects.get(pk=task.pk)


def action_in_error(
    tenant: Tenant,
    error: str = "HTTP 503 (gave up after 3 tries)",
    *,
    order_number: dict[str, Any] | None = None,
) -> TaskInstance:
    """A ticket stopped at an ASYNC action ("order", output: order_number) in ERROR.

    One per company (its workflow is published here).
    The ticket runs through the services up to the action; its endpoint is another page's
    business, so the failure the engine would record (three tries, the task and the run in
    ERROR) is written here.
    """
    bundle = review_bundle(title="Buying", ticket_type="Buy something")
    order = bundle["workflow"]["tasks"][1]
    order.update(type="ASYNC_ACTION", action_url="https://supplier.test/orders", timeout_seconds=60)
    if order_number is not None:  # the output's schema, for a stricter one
        order["output_schema"]["properties"]["order_number"] = order_number
    ticket_type = publish(tenant.designer, bundle)
    ticket = services.ticket_submit(
        ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "Desk"}
    )
    review = current(ticket)
    give(review, tenant.worker)
    services.task_complete(worker=tenant.worker, task=review, output={"approved": True})
    task = current(ticket)
    assert task.task_key == "order"
    with company_context(tenant.company):
        TaskInstance.objects.filter(pk=task.pk).update(status=TaskStatus.ERROR, attempts=3, error=error)
        WorkflowInstance.objects.filter(pk=ticket.workflow_instance_id).update(
            status=WorkflowStatus.ERROR, error=error
        )
        for attempt in (1, 2, 3):
            details: dict[str, Any] = {"attempt": attempt, "status": 503, "ms": 120, "error": "HTTP 503"}
            if attempt < 3:
                details["retry_in"] = 2.0 * attempt
            TicketEvent.objects.create(
                ticket=ticket,
                task=task,
                kind=EventKind.ATTEMPT,
                actor_label="TicketFlower",
                message="HTTP 503",
                details=details,
            )
        return TaskInstance.objects.get(pk=task.pk)


def run_of(ticket: TicketInstance) -> WorkflowInstance:
    with company_context(ticket.company):
        return WorkflowInstance.objects.get(pk=ticket.workflow_instance_id)


def task_now(task: TaskInstance) -> TaskInstance:
    with company_context(task.company):
        return TaskInstance.objects.get(pk=task.pk)
