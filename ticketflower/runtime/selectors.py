"""Reads about tickets, tasks and the people who work on them."""

from django.db.models import F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Concat

from ticketflower.accounts.models import User
from ticketflower.definitions.models import ReleaseTicketType, TaskType, WorkflowRelease
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    Assignment,
    CountSubject,
    StatusCount,
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


def status_counts(subject: CountSubject) -> dict[tuple[int | None, str], int]:
    """How many tickets (per ticket type) or tasks the company has in each status, as (type id or
    None, status) → count: a sum over a few rows the database keeps (models.StatusCount)."""
    rows = (
        StatusCount.objects.filter(subject=subject)
        .values_list("ticket_type_id", "status")
        .annotate(total=Sum("n"))
        .order_by()
    )
    return {(type_id, status): total for type_id, status, total in rows if total}


# --- searching the big lists ---------------------------------------------------------------------

# How many people, ticket types or titles a term may match: past that it is too vague to be of use,
# and the search looks among the first 500 (by e-mail address, title) only.
SEARCH_MATCHES = 500


def ticket_number(term: str) -> int | None:
    """`term` as a ticket or task number ("#123" or "123"), or None if it cannot be one."""
    number = term.removeprefix("#")
    return int(number) if number.isdigit() and len(number) < 19 else None


def _people_matching(term: str) -> list[int]:
    """The company's people whose e-mail address or name (as lists show it) holds `term`."""
    people = User.objects.annotate(name=Concat("first_name", Value(" "), "last_name"))
    matches = people.filter(Q(email__icontains=term) | Q(name__icontains=term))
    return list(matches.values_list("pk", flat=True)[:SEARCH_MATCHES])


def ticket_search(tickets: QuerySet[TicketInstance], term: str) -> QuerySet[TicketInstance]:
    """Tickets whose number is `term`, or whose type or submitter matches it.

    The small tables (ticket types, people) are searched first and the tickets then picked by
    their keys, so a search never reads every ticket's joined row; a term that matches
    nothing there finds nothing at once.
    """
    term = term.strip()
    if not term:
        return tickets
    found = Q(pk__in=[])
    if (number := ticket_number(term)) is not None:
        found |= Q(pk=number)
    types = list(
        ReleaseTicketType.objects.filter(title__icontains=term).values_list("pk", flat=True)[:SEARCH_MATCHES]
    )
    if types:
        found |= Q(ticket_type__in=types)
    if people := _people_matching(term):
        found |= Q(created_by__in=people)
    return tickets.filter(found)


# The task titles of each release, by its id: releases never change, so each is read once per process.
_RELEASE_TITLES: dict[int, frozenset[str]] = {}


def task_titles_matching(term: str) -> list[str]:
    """The titles tasks can have (from the company's releases) that hold `term`."""
    releases = list(WorkflowRelease.objects.values_list("pk", flat=True))
    unread = [pk for pk in releases if pk not in _RELEASE_TITLES]
    read = WorkflowRelease.objects.filter(pk__in=unread).values_list("pk", "bundle__workflow__tasks")
    for pk, tasks in read if unread else ():
        _RELEASE_TITLES[pk] = frozenset(str(t.get("title", "")) for t in tasks or () if isinstance(t, dict))
    needle = term.casefold()
    titles = set().union(*(_RELEASE_TITLES[pk] for pk in releases))
    return sorted(t for t in titles if needle in t.casefold())[:SEARCH_MATCHES]


def task_search(tasks: QuerySet[TaskInstance], term: str) -> QuerySet[TaskInstance]:
    """Tasks whose number or ticket's number is `term`, or whose title or assignee matches it.

    Like `ticket_search`: titles come from the releases and people from the user table, and
    the tasks are then picked through their indexes.
    """
    term = term.strip()
    if not term:
        return tasks
    found = Q(pk__in=[])
    if (number := ticket_number(term)) is not None:
        found |= Q(pk=number)
        # The ticket's run first: a join inside the OR would make the planner walk every task.
        ticket = TicketInstance.objects.filter(pk=number)
        run = ticket.values_list("workflow_instance_id", flat=True).first()
        if run is not None:
            found |= Q(workflow_instance_id=run)
    if titles := task_titles_matching(term):
        found |= Q(title__in=titles)
    if people := _people_matching(term):
        found |= Q(assigned_to__in=people)
    return tasks.filter(found)
