"""The numbers each role's dashboard shows, as plain data for one shared template."""

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ticketflower.accounts.models import User
from ticketflower.definitions.models import TaskDefinition, TicketDefinition, WorkflowDefinition
from ticketflower.definitions.selectors import latest_releases
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    ACTIVE_WORKFLOW_STATUSES,
    TaskInstance,
    TaskStatus,
    TicketInstance,
)
from ticketflower.runtime.selectors import available_workers, my_tasks, pool_tasks
from ticketflower.tenancy.models import CompanyRole, SystemRole, SystemRoleAssignment
from ticketflower.tenancy.versions import company_versions

OVERDUE_AFTER = timedelta(days=3)


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
    now = timezone.now()
    open_tickets = TicketInstance.objects.filter(workflow_instance__status__in=ACTIVE_WORKFLOW_STATUSES)
    by_type = open_tickets.values("ticket_type__title").annotate(n=Count("pk")).order_by("-n")[:20]
    tasks = TaskInstance.objects.aggregate(
        errored=Count("pk", filter=Q(status=TaskStatus.ERROR)),
        overdue=Count("pk", filter=Q(status__in=ACTIVE_TASK_STATUSES, created_at__lt=now - OVERDUE_AFTER)),
        open=Count("pk", filter=Q(status__in=ACTIVE_TASK_STATUSES)),
    )
    return {
        "stats": [
            (_("Open tickets"), open_tickets.count()),
            (_("Open tasks"), tasks["open"]),
            (_("Tasks in error"), tasks["errored"]),
            (_("Open for over 3 days"), tasks["overdue"]),
        ],
        "tables": [
            _table(
                _("Open tickets by type"),
                [_("Ticket type"), _("Open")],
                [[r["ticket_type__title"], r["n"]] for r in by_type],
            ),
            _table(
                _("Tasks per worker"),
                [_("Worker"), _("Open tasks"), _("Available")],
                [
                    [w, getattr(w, "open_tasks", 0), _("yes") if w.is_available else _("no")]
                    for w in available_workers(include_unavailable=True)
                ],
            ),
        ],
    }


def worker_dashboard(worker: User) -> dict[str, Any]:
    tasks = list(my_tasks(worker)[:20])
    return {
        "stats": [
            (_("My open tasks"), my_tasks(worker).count()),
            (_("Open tasks in the pool"), pool_tasks(worker).count()),
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
