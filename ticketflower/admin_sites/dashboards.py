"""The numbers each role's dashboard shows, as plain data for one shared template."""

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ticketflower.accounts.models import User
from ticketflower.core.paging import capped_count, count_text, list_count_cap
from ticketflower.definitions.models import (
    ReleaseTicketType,
    TaskDefinition,
    TicketDefinition,
    WorkflowDefinition,
)
from ticketflower.definitions.selectors import latest_releases
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    ACTIVE_WORKFLOW_STATUSES,
    CountSubject,
    TaskInstance,
    TaskStatus,
)
from ticketflower.runtime.selectors import available_workers, my_tasks, pool_tasks, status_counts
from ticketflower.tenancy.models import CompanyRole, SystemRole, SystemRoleAssignment
from ticketflower.tenancy.versions import company_versions

OVERDUE_AFTER = timedelta(days=3)
WORKERS_SHOWN = 50  # the ones automatic assignment picks next


def _counted(queryset: QuerySet[Any]) -> int | str:
    """The number of rows, or "more than 10,000" past the lists' cap."""
    cap = list_count_cap()
    count = capped_count(queryset, cap)
    return count if count <= cap else count_text(count, cap)


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"title": title, "headers": headers, "rows": rows}


def design_dashboard() -> dict[str, Any]:
    published = latest_releases().filter(withdrawn=False).count()
    recent = (
        company_versions()
        .select_related("revision__user", "content_type")
        .order_by("-revision__date_created", "-pk")[:10]  # a revision saves several at one time
    )
    return {
        "stats": [
            (_("Workflows"), WorkflowDefinition.objects.count()),
            (_("Published workflows"), published),
            (_("Tasks"), TaskDefinition.objects.count()),
            (_("Ticket types"), TicketDefinition.objects.count()),
        ],
        "tables": [
            _table(
                _("Recent definition changes"),
                [_("When"), _("What"), _("Who"), _("Note")],
                [
                    [
                        v.revision.date_created,
                        f"{v.content_type.name}: {v.object_repr}",
                        v.revision.user or "—",
                        v.revision.get_comment() or "—",
                    ]
                    for v in recent
                ],
            )
        ],
    }


def tickets_dashboard() -> dict[str, Any]:
    """Counts of open work from the counters the database keeps (StatusCount), and overdue tasks
    from the open tasks' index, stopping at the lists' cap: no page here reads the history."""
    tickets = status_counts(CountSubject.TICKET)
    tasks = status_counts(CountSubject.TASK)
    overdue = TaskInstance.objects.filter(
        status__in=ACTIVE_TASK_STATUSES, created_at__lt=timezone.now() - OVERDUE_AFTER
    )
    workers = available_workers(include_unavailable=True)[:WORKERS_SHOWN]
    return {
        "stats": [
            (_("Open tickets"), sum(n for (_t, s), n in tickets.items() if s in ACTIVE_WORKFLOW_STATUSES)),
            (_("Open tasks"), sum(n for (_t, s), n in tasks.items() if s in ACTIVE_TASK_STATUSES)),
            (_("Tasks in error"), tasks.get((None, TaskStatus.ERROR), 0)),
            (_("Open for over 3 days"), _counted(overdue)),
        ],
        "tables": [
            _table(
                _("Open tickets by type"),
                [_("Ticket type"), _("Open")],
                [[title, n] for title, n in _open_by_type(tickets)],
            ),
            _table(
                _("Tasks per worker"),
                [_("Worker"), _("In their queue (open or in progress)"), _("Available")],
                [[w, getattr(w, "open_tasks", 0), _("yes") if w.is_available else _("no")] for w in workers],
            ),
        ],
    }


def _open_by_type(tickets: dict[tuple[int | None, str], int], limit: int = 20) -> list[tuple[str, int]]:
    """Open tickets per ticket type title (each release has its own ticket type rows), most first."""
    titles = dict(ReleaseTicketType.objects.values_list("pk", "title"))
    by_title: dict[str, int] = {}
    for (type_id, status), n in tickets.items():
        if status in ACTIVE_WORKFLOW_STATUSES and type_id is not None:
            title = str(titles.get(type_id, type_id))
            by_title[title] = by_title.get(title, 0) + n
    return sorted(by_title.items(), key=lambda item: (-item[1], item[0]))[:limit]


def worker_dashboard(worker: User) -> dict[str, Any]:
    tasks = list(my_tasks(worker)[:20])
    return {
        "stats": [
            (_("My open tasks"), my_tasks(worker).count()),
            (_("Open tasks in the pool"), _counted(pool_tasks(worker))),
            (_("Available for new tasks"), _("yes") if worker.is_available else _("no")),
        ],
        "tables": [
            _table(
                _("My tasks"),
                [_("Task"), _("Workflow"), _("Status"), _("Since")],
                [
                    [
                        t.title,
                        t.workflow_instance.release.workflow.title,
                        t.get_status_display(),
                        t.created_at,
                    ]
                    for t in tasks
                ],
            )
        ],
    }


def company_dashboard() -> dict[str, Any]:
    people = User.objects.aggregate(total=Count("pk"), active=Count("pk", filter=Q(is_active=True)))
    by_role = dict(
        SystemRoleAssignment.objects.filter(user__is_active=True).values_list("role").annotate(n=Count("pk"))
    )
    return {
        "stats": [
            (_("People"), people["total"]),
            (_("Active"), people["active"]),
            (_("Company roles"), CompanyRole.objects.count()),
        ],
        "tables": [
            _table(
                _("People per system role"),
                [_("Role"), _("Active people")],
                [[label, by_role.get(value, 0)] for value, label in SystemRole.choices],
            )
        ],
    }
