"""Writes on running work. The engine (ticket submission, transitions, actions) comes next."""

from django.db import transaction

from ticketflower.accounts.models import User
from ticketflower.runtime.models import ACTIVE_TASK_STATUSES, TaskInstance
from ticketflower.tenancy.context import acting_as
from ticketflower.tenancy.models import SystemRole
from ticketflower.tenancy.permissions import require_system_role


@transaction.atomic
def tasks_reassign(*, actor: User, tasks: list[TaskInstance], worker: User) -> int:
    """A ticket admin hands unfinished tasks to a task worker of the same company."""
    require_system_role(actor, SystemRole.TICKET_ADMIN)
    with acting_as(actor):
        worker = User.objects.get(pk=worker.pk, system_role_assignments__role=SystemRole.TASK_WORKER)
        return TaskInstance.objects.filter(
            pk__in=[task.pk for task in tasks], status__in=ACTIVE_TASK_STATUSES
        ).update(assigned_to=worker)
