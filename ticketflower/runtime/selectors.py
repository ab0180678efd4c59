"""Reads about tickets, tasks and the people who work on them."""

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from ticketflower.accounts.models import User
from ticketflower.definitions.models import TaskType
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    Assignment,
    TaskInstance,
    TaskStatus,
    TicketEvent,
    TicketInstance,
)
from ticketflower.tenancy.models import CompanyRoleMembership, SystemRole


def available_workers(*, include_unavailable: bool = False) -> QuerySet[User]:
    """The company's active task workers in the order automatic assignment picks them.

    Shortest queue first (`open_tasks`: OPEN or IN_PROGRESS), then whoever was assigned least
    recently, then who joined first. Queues come from `WorkerLoad`, which the database keeps,
    so this counts nothing however many tasks there are.
    """
    workers = User.objects.filter(
        is_active=True, system_role_assignments__role=SystemRole.TASK_WORKER
    ).annotate(open_tasks=Coalesce("load__open_tasks", 0), last_assigned=F("load__last_assigned_at"))
    if not include_unavailable:
        workers = workers.filter(is_available=True)
    return workers.order_by("open_tasks", F("last_assigned").asc(nulls_first=True), "pk")


def worker_tasks(worker: User) -> QuerySet[TaskInstance]:
    """A worker's open and in-progress tasks, oldest first."""
    return (
        TaskInstance.objects.filter(assigned_to=worker, status__in=ACTIVE_TASK_STATUSES)
        .select_related("workflow_instance__release__workflow")
        .defer("workflow_instance__release__bundle", "workflow_instance__data")
        .order_by("created_at")
    )


# --- the work pages -----------------------------------------------------------------------------


def my_tasks(worker: User) -> QuerySet[TaskInstance]:
    """What the worker site lists as the worker's own: their unfinished FORM tasks, with their tickets."""
    return (
        worker_tasks(worker)
        .filter(task_type=TaskType.FORM)
        .select_related("workflow_instance__ticket__ticket_type")
    )


def claimable_tasks(worker: User) -> QuerySet[TaskInstance]:
    """Pool tasks meant for `worker`'s roles (no role named, or one of theirs), whatever their status.

    A claim looks its task up here, so one that lost the race to another worker still finds
    it and is told it was taken; a task for another role is "not found".
    """
    roles = CompanyRoleMembership.objects.filter(user=worker).values("role")
    return TaskInstance.objects.filter(task_type=TaskType.FORM, assignment=Assignment.POOL).filter(
        Q(worker_role__isnull=True) | Q(worker_role__in=roles)
    )


def pool_tasks(worker: User) -> QuerySet[TaskInstance]:
    """The pool as `worker` sees it, oldest first: unclaimed tasks they may claim.

    The rule of `services.eligible_workers` turned around, in one query: an active, available
    task worker sees the pool tasks that name no worker role or one they hold; anyone else
    sees none.
    """
    if not (worker.is_active and worker.is_available and worker.has_system_role(SystemRole.TASK_WORKER)):
        return TaskInstance.objects.none()
    return (
        claimable_tasks(worker)
        .filter(status=TaskStatus.PENDING, assigned_to__isnull=True)
        .select_related(
            "workflow_instance__release__workflow", "workflow_instance__ticket__ticket_type", "worker_role"
        )
        .defer("workflow_instance__release__bundle", "workflow_instance__data")
        .order_by("created_at", "pk")
    )


WAITING_FOR_A_WORKER = Q(status=TaskStatus.PENDING, task_type=TaskType.FORM, assigned_to__isnull=True)


def ticket_tasks(ticket: TicketInstance) -> QuerySet[TaskInstance]:
    """A ticket's tasks in the order they were created."""
    return (
        TaskInstance.objects.filter(workflow_instance_id=ticket.workflow_instance_id)
        .select_related("assigned_to")
        .order_by("created_at", "pk")
    )


def ticket_history(ticket: TicketInstance, *, limit: int = 500) -> list[TicketEvent]:
    """The latest `limit` events of a ticket, oldest first."""
    latest = (
        TicketEvent.objects.filter(ticket=ticket)
        .select_related("actor", "task")
        .order_by("-created_at", "-pk")[:limit]
    )
    return list(reversed(latest))
