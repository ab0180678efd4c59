"""Reads about tickets, tasks and the people who work on them."""

from django.db.models import Count, Q, QuerySet

from ticketflower.accounts.models import User
from ticketflower.runtime.models import ACTIVE_TASK_STATUSES, TaskInstance
from ticketflower.tenancy.models import SystemRole


def available_workers(*, include_unavailable: bool = False) -> QuerySet[User]:
    """The company's active task workers, shortest queue first (ties: who joined first)."""
    workers = User.objects.filter(
        is_active=True, system_role_assignments__role=SystemRole.TASK_WORKER
    ).annotate(open_tasks=Count("assigned_tasks", filter=Q(assigned_tasks__status__in=ACTIVE_TASK_STATUSES)))
    if not include_unavailable:
        workers = workers.filter(is_available=True)
    return workers.order_by("open_tasks", "pk")


def worker_tasks(worker: User) -> QuerySet[TaskInstance]:
    """A worker's open and in-progress tasks, oldest first."""
    return (
        TaskInstance.objects.filter(assigned_to=worker, status__in=ACTIVE_TASK_STATUSES)
        .select_related("workflow_instance__release__workflow")
        .defer("workflow_instance__release__bundle", "workflow_instance__data")
        .order_by("created_at")
    )
