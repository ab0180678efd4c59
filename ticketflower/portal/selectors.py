"""What the portal shows: a person's areas, the ticket types they may submit, their tickets, one ticket.

Tenancy: every query here runs through the company-scoped managers, so another company's
rows are never found; who may see a ticket within the company is decided in `visible_ticket`
(its submitter, and the company's ticket admins) and nowhere else.
"""

from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db.models import F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ticketflower.accounts.models import User
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.definitions.selectors import submittable_ticket_types
from ticketflower.files.models import FileUpload
from ticketflower.portal import display
from ticketflower.portal.keyset import KeysetPage, keyset_page
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    ACTIVE_WORKFLOW_STATUSES,
    TaskInstance,
    TicketEvent,
    TicketInstance,
    WorkflowStatus,
)
from ticketflower.runtime.services import ticket_type_for
from ticketflower.tenancy.models import SystemRole

# --- areas on the dashboard ----------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    slug: str
    role: SystemRole
    title: str | Promise
    description: str | Promise
    icon: str

    @property
    def url(self) -> str:
        if self.slug in ADMIN_SITES:
            return reverse(f"{self.slug}:index")
        if self.slug in PAGES:
            return reverse(PAGES[self.slug])
        return reverse("portal:area", kwargs={"slug": self.slug})


# Areas with their own admin site or portal page; any other opens a placeholder until it lands.
ADMIN_SITES = {"design", "tickets", "worker", "company"}
PAGES = {"submit": "portal:submit", "my-tickets": "portal:my_tickets"}
AREAS: tuple[Area, ...] = (
    Area(
        "submit", SystemRole.USER, _("Submit a ticket"), _("Ask for something and follow it."), "add_circle"
    ),
    Area(
        "my-tickets",
        SystemRole.USER,
        _("My tickets"),
        _("The tickets you submitted and where they stand."),
        "list_alt",
    ),
    Area("worker", SystemRole.TASK_WORKER, _("My tasks"), _("The tasks assigned to you."), "task_alt"),
    Area(
        "tickets",
        SystemRole.TICKET_ADMIN,
        _("Tickets"),
        _("Every ticket and task of your company."),
        "confirmation_number",
    ),
    Area(
        "design",
        SystemRole.WORKFLOW_CREATOR,
        _("Design"),
        _("Ticket types, workflows and their tasks."),
        "account_tree",
    ),
    Area("company", SystemRole.ADMIN, _("Company"), _("People, roles and the company profile."), "apartment"),
)


def areas_for(user: User) -> list[Area]:
    return [area for area in AREAS if user.has_system_role(area.role)]


def area_for(user: User, slug: str) -> Area | None:
    """The area `slug` if `user` may open it; None alike for unknown and forbidden areas."""
    return next((area for area in areas_for(user) if area.slug == slug), None)


def is_submitter(user: User) -> bool:
    """May use the submitter's pages: an active member of a company with the User role."""
    return bool(user.is_active and user.company_id is not None and user.has_system_role(SystemRole.USER))


# --- submitting ----------------------------------------------------------------------------------


def submit_choices(user: User) -> list[ReleaseTicketType]:
    """The ticket types `user` may submit now, by title, with their workflow (bundles not loaded)."""
    return list(submittable_ticket_types(user))


def ticket_type_to_submit(user: User, ticket_type_id: int) -> ReleaseTicketType | None:
    """The type behind `ticket_type_id` as `user` may submit it now (the latest release's), or None.

    None alike for an unknown id, another company's, a type the user's roles do not open and
    a withdrawn workflow's: the caller answers 404 for all of them.
    """
    found = (
        ReleaseTicketType.objects.select_related("release")
        .defer("release__bundle")
        .filter(pk=ticket_type_id)
        .first()
    )
    if found is None:
        return None
    try:
        return ticket_type_for(user, found)
    except PermissionDenied:
        return None


# --- my tickets ----------------------------------------------------------------------------------

PAGE_SIZE = 25
Tab = Literal["active", "closed", "all"]
CLOSED_WORKFLOW_STATUSES = tuple(s for s in WorkflowStatus if s not in ACTIVE_WORKFLOW_STATUSES)
TAB_STATUSES: dict[str, tuple[WorkflowStatus, ...]] = {
    "active": ACTIVE_WORKFLOW_STATUSES,
    "closed": CLOSED_WORKFLOW_STATUSES,
    "all": tuple(WorkflowStatus),
}
# Public sort names: the row field each orders by.
SORTS = {"submitted": "created_at", "updated": "updated", "type": "type_title"}


@dataclass(frozen=True)
class TicketQuery:
    tab: Tab = "active"
    type_id: int | None = None  # any release's id of the type: every release of it is meant
    status: str = ""
    sort: str = "submitted"
    descending: bool = True
    cursor: str | None = None


@dataclass(frozen=True)
class TicketRow:
    pk: int
    type_title: str
    status: str
    submitted: Any
    updated: Any
    current_step: str | None

    @property
    def status_label(self) -> str:
        return str(WorkflowStatus(self.status).label) if self.status else "—"

    @property
    def variant(self) -> str:
        return display.RUN_VARIANTS.get(self.status, "default")


@dataclass(frozen=True)
class TypeChoice:
    type_id: int
    title: str


def my_ticket_types(user: User) -> list[TypeChoice]:
    """The ticket types of `user`'s tickets, one per workflow and title whatever the release.

    Reads the user's own tickets only (through the created_by index), never the company's.
    """
    grouped = (
        TicketInstance.objects.filter(created_by=user)
        .values("ticket_type__release__workflow_id", "ticket_type__title")
        .annotate(type_id=Max("ticket_type_id"))
        .order_by("ticket_type__title")
    )
    return [TypeChoice(row["type_id"], row["ticket_type__title"]) for row in grouped]


def my_tickets(user: User, query: TicketQuery) -> KeysetPage[TicketRow]:
    """One page of the tickets `user` submitted: a single query of the few columns a row shows."""
    tickets = TicketInstance.objects.filter(created_by=user)
    statuses = TAB_STATUSES[query.tab]
    if query.status in statuses:
        tickets = tickets.filter(status=query.status)
    elif query.tab != "all":
        tickets = tickets.filter(status__in=statuses)
    if query.type_id is not None:
        same_type = ReleaseTicketType.objects.filter(pk=query.type_id).values("release__workflow_id", "title")
        chosen = same_type.first()
        if chosen is None:
            tickets = tickets.none()
        else:
            tickets = tickets.filter(
                ticket_type__release__workflow_id=chosen["release__workflow_id"],
                ticket_type__title__iexact=chosen["title"],
            )
    now_at = TaskInstance.objects.filter(
        workflow_instance=OuterRef("workflow_instance"), status__in=ACTIVE_TASK_STATUSES
    ).order_by("-created_at", "-pk")
    rows = tickets.annotate(
        type_title=F("ticket_type__title"),
        run_status=F("status"),
        updated=Coalesce("workflow_instance__updated_at", "updated_at"),
        current_step=Subquery(now_at.values("title")[:1]),
    ).values("pk", "type_title", "run_status", "created_at", "updated", "current_step")
    page = keyset_page(
        rows,
        field=SORTS.get(query.sort, "created_at"),
        descending=query.descending,
        scope=f"my-tickets:{query.sort}:{query.descending}",
        cursor=query.cursor,
        size=PAGE_SIZE,
    )
    return KeysetPage(
        rows=[
            TicketRow(
                pk=row["pk"],
                type_title=row["type_title"],
                status=row["run_status"] or "",
                submitted=row["created_at"],
                updated=row["updated"],
                current_step=row["current_step"],
            )
            for row in page.rows
        ],
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )


# --- one ticket ----------------------------------------------------------------------------------


def visible_ticket(user: User, pk: int) -> TicketInstance | None:
    """The ticket if `user` may see it — its submitter, or a ticket admin of its company — else None.

    None alike for a missing ticket, another company's and a colleague's: the caller answers 404.
    """
    if not user.is_active or user.company_id is None:
        return None
    tickets = (
        TicketInstance.objects.select_related("ticket_type__release", "workflow_instance", "created_by")
        .defer("workflow_instance__data")
        .filter(pk=pk)
    )
    if not user.has_system_role(SystemRole.TICKET_ADMIN):
        tickets = tickets.filter(created_by=user)
    return tickets.first()


@dataclass(frozen=True)
class TicketView:
    """A ticket as its reader may see it; `internal` for ticket admins, who see the workings too."""

    ticket: TicketInstance
    internal: bool
    status: str
    status_label: str
    variant: str
    explained: str
    error: str  # the run's technical reason: ticket admins only
    current_step: str
    answers: list[display.Answer]
    tasks: list[display.TaskLine]
    history: list[display.HistoryEntry]


def ticket_view(user: User, ticket: TicketInstance) -> TicketView:
    """Everything the detail page shows, in a fixed number of queries whatever the ticket's size."""
    internal = user.has_system_role(SystemRole.TICKET_ADMIN)
    bundle = ticket.ticket_type.release.bundle
    spec, fields = ticket.ticket_type.spec, bundle["workflow"]["fields"]
    run = ticket.workflow_instance
    tasks: list[TaskInstance] = []
    if run is not None:
        tasks = list(
            TaskInstance.objects.filter(workflow_instance=run)
            .select_related("assigned_to")
            .defer("input_data", "output_data")
            .order_by("created_at", "pk")
        )
    events = (
        TicketEvent.objects.filter(ticket=ticket).select_related("actor", "task").order_by("created_at", "pk")
    )
    events = events.defer("task__input_data", "task__output_data")
    if not internal:
        events = events.exclude(kind__in=display.SUBMITTER_HIDDEN_KINDS)
    wanted_files = display.file_ids(spec, fields, ticket.data)
    names = (
        dict(FileUpload.objects.filter(pk__in=wanted_files).values_list("pk", "filename"))
        if wanted_files
        else {}
    )
    status = run.status if run is not None else ""
    active = [task for task in tasks if task.status in ACTIVE_TASK_STATUSES]
    return TicketView(
        ticket=ticket,
        internal=internal,
        status=status,
        status_label=str(WorkflowStatus(status).label) if status else "—",
        variant=display.RUN_VARIANTS.get(status, "default"),
        # Said to the person who asked; a ticket admin reads the status (and the reason) instead.
        explained=str(display.RUN_EXPLAINED.get(status, "")) if ticket.created_by_id == user.pk else "",
        error=run.error if internal and run is not None else "",
        current_step=active[-1].title if active else "",
        answers=display.answers(spec, fields, ticket.data, file_names=names),
        tasks=[display.task_line(task, internal=internal) for task in tasks],
        history=[
            entry
            for event in events
            if (entry := display.history_entry(event, internal=internal)) is not None
        ],
    )


def submitted_ticket(user: User, pk: int) -> TicketInstance | None:
    """The ticket for its confirmation page: only its submitter sees that."""
    if not is_submitter(user):
        return None
    return (
        TicketInstance.objects.select_related("ticket_type", "workflow_instance")
        .defer("ticket_type__allowed_role_ids")
        .filter(pk=pk, created_by=user)
        .first()
    )


def current_task(ticket: TicketInstance) -> TaskInstance | None:
    """The ticket's latest unfinished task, with who has it."""
    if ticket.workflow_instance_id is None:
        return None
    return (
        TaskInstance.objects.filter(
            workflow_instance=ticket.workflow_instance_id, status__in=ACTIVE_TASK_STATUSES
        )
        .select_related("assigned_to")
        .order_by("-created_at", "-pk")
        .first()
    )
