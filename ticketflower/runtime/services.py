"""Writes on running work. The engine (ticket submission, transitions, actions) comes next."""

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from ticketflower.accounts.models import User
from ticketflower.runtime.models import ACTIVE_TASK_STATUSES, TaskInstance
from ticketflower.tenancy.context import acting_as
from ticketflower.tenancy.models import SystemRole
from ticketflower.tenancy.permissions import require_system_role

WORK_ON_TASK = "runtime.work_on_task"


def task_assign(*, task: TaskInstance, worker: User | None) -> None:
    """Give a task to a worker: the assignee field and the object permission move together.

    The one place that changes who works on a task (the engine's auto-assignment will call it
    too), so the permission never disagrees with the assignee. Call within a company context.
    """
    previous = task.assigned_to
    if previous is not None and previous != worker:
        remove_perm(WORK_ON_TASK, previous, task)
    task.assigned_to = worker
    task.save(update_fields=["assigned_to"])
    if worker is not None:
        assign_perm(WORK_ON_TASK, worker, task)


@transaction.atomic
def tasks_reassign(*, actor: User, tasks: list[TaskInstance], worker: User) -> int:
    """A ticket admin hands unfinished tasks to a task worker of the same company."""
    require_system_role(actor, SystemRole.TICKET_ADMIN)
    with acting_as(actor):
        worker = User.objects.get(pk=worker.pk, system_role_assignments__role=SystemRole.TASK_WORKER)
        unfinished = TaskInstance.objects.select_for_update(of=("self",)).filter(
            pk__in=[task.pk for task in tasks], status__in=ACTIVE_TASK_STATUSES
        )
        count = 0
        for task in unfinished.select_related("assigned_to"):
            task_assign(task=task, worker=worker)
            count += 1
        return count
