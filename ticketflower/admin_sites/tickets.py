"""/tickets/: ticket admins watch every ticket and task of their company and step in.

A ticket's page shows its data, where its run stands (and why it stopped), its tasks and its
history. Holding, resuming, cancelling and rerouting a ticket, and retrying or skipping a task
in error, are POSTs behind a confirmation page or form, done by ticketflower.runtime.services;
a state the ticket is no longer in comes back as `WrongState` and is shown as its reason.
A button shows only where its action applies.
"""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import DropdownFilter, RangeDateFilter
from unfold.decorators import action, display
from unfold.utils import parse_date_str

from ticketflower.accounts.models import User
from ticketflower.admin_sites.dashboards import tickets_dashboard
from ticketflower.admin_sites.design import confirm_page
from ticketflower.admin_sites.resources import TaskExportResource, TicketExportResource
from ticketflower.admin_sites.runs import history_rows, labelled, output_form, task_layouts, workflow_fields
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.layouts.embed import release_frame
from ticketflower.portal.display import layout_context, task_line
from ticketflower.runtime import services as runtime_services
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    ACTIVE_WORKFLOW_STATUSES,
    FINISHED_TASK_STATUSES,
    FINISHED_WORKFLOW_STATUSES,
    ActiveTask,
    ActiveTicket,
    ArchivedTask,
    ArchivedTicket,
    Assignment,
    TaskInstance,
    TaskStatus,
    TicketInstance,
    WorkflowInstance,
    WorkflowStatus,
)
from ticketflower.runtime.selectors import (
    WAITING_FOR_A_WORKER,
    available_workers,
    task_search,
    ticket_history,
    ticket_search,
    ticket_tasks,
)
from ticketflower.tenancy.admin import TenantAdminSite, TenantExportMixin, TenantModelAdmin
from ticketflower.tenancy.models import SystemRole


class TicketsSite(TenantAdminSite):
    role = SystemRole.TICKET_ADMIN
    settings_name = "UNFOLD_TICKETS"
    site_title = site_header = _("TicketFlower tickets")
    index_title = _("Tickets")
    index_template = "admin_sites/dashboard.html"

    def dashboard(self, request: HttpRequest) -> dict[str, Any]:
        return tickets_dashboard()


tickets_site = TicketsSite(name="tickets")

READ_ONLY = frozenset({"view"})


class TicketNoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why: it goes into the ticket's history."),
    )


def ticket_page(ticket_id: int, run_status: str | None) -> str:
    """A ticket's page: among the active tickets while it runs, in the archive once it is done."""
    archived = run_status is not None and run_status not in ACTIVE_WORKFLOW_STATUSES
    return reverse(f"tickets:runtime_{'archived' if archived else 'active'}ticket_change", args=[ticket_id])


def ticket_url(ticket: TicketInstance) -> str:
    """The ticket's page as it stands now (an action may just have finished or cancelled it)."""
    status = TicketInstance.objects.filter(pk=ticket.pk).values_list("status", flat=True).first()
    return ticket_page(ticket.pk, status)


def _done_or_told(
    request: HttpRequest, ticket: TicketInstance, call: Callable[[User], object], done: str
) -> HttpResponse:
    """Run a ticket admin's service; say what happened, or why nothing did, on the ticket's page."""
    try:
        call(cast(User, request.user))
    except runtime_services.WrongState as exc:
        messages.error(request, exc.reason)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(ticket_url(ticket))


def task_who(task: TaskInstance) -> str:
    """Who has the task, or what it waits for."""
    if task.task_type != "FORM":
        return str(_("TicketFlower (automatic)"))
    if task.assigned_to_id:
        return str(task.assigned_to)
    if task.status == TaskStatus.PENDING:
        if task.assignment == Assignment.POOL:
            return str(_("In the pool"))
        return str(_("Waiting for a worker"))
    return "—"


def may_retry_or_skip(task: TaskInstance, run_status: str) -> bool:
    """A task in error whose run stopped for it: what `task_retry` and `task_skip` accept."""
    return task.status == TaskStatus.ERROR and run_status == WorkflowStatus.ERROR


class StatusFilter(DropdownFilter):
    """The statuses the list can hold (running ones or finished ones), not every status there is."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        model = model_admin.model
        statuses = model_admin.statuses
        field = model._meta.get_field("status")
        return [(value, label) for value, label in field.choices if value in statuses]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(status=self.value()) if self.value() else queryset


class TicketTypeFilter(DropdownFilter):
    """Ticket types by title: each release publishes its own rows, people think of one type.

    The choices come from the ticket types (a small table), never from the tickets.
    """

    title = _("ticket type")
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        titles = ReleaseTicketType.objects.order_by("title").values_list("title", flat=True).distinct()
        return [(title, title) for title in titles]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        types = list(ReleaseTicketType.objects.filter(title=self.value()).values_list("pk", flat=True))
        return queryset.filter(ticket_type__in=types)


class CreatedBetween(RangeDateFilter):
    """From one day to another, both whole, on the lists' indexed timestamp: any stretch of a
    company's history is reachable, however far past the newest 10,000 it lies."""

    title = _("created between")

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        bounds = {}
        for end, lookup, days in (("from", "gte", 0), ("to", "lt", 1)):
            given = self.used_parameters.get(f"{self.parameter_name}_{end}")
            day = parse_date_str(given) if isinstance(given, str) else None
            if day is not None:  # the day's midnight here, or the next day's for "to"
                midnight = datetime.combine(day + timedelta(days=days), time.min)
                bounds[f"{self.field_path}__{lookup}"] = timezone.make_aware(midnight)
        return queryset.filter(**bounds)


class _TicketAdmin(TenantExportMixin, TenantModelAdmin):
    resource_classes = [TicketExportResource]
    allowed = READ_ONLY
    list_display = ["__str__", "ticket_type_title", "status", "created_by", "created_at"]
    list_filter = [TicketTypeFilter, StatusFilter, ("created_at", CreatedBetween)]
    list_filter_submit = True  # the date range is a form
    search_fields = ["ticket_type__title", "created_by__email"]  # see get_search_results
    search_help_text = _("A ticket number, a ticket type, or the submitter's name or e-mail address.")
    list_select_related = ["ticket_type", "created_by"]
    list_columns = (
        "id",
        "company_id",
        "status",
        "created_at",
        "ticket_type__id",
        "ticket_type__title",
        "created_by__id",
        "created_by__email",
        "created_by__first_name",
        "created_by__last_name",
    )
    sortable_by = ["created_at"]  # the lists' indexes are by submission time
    readonly_fields = [
        "ticket_type_title",
        "workflow_status",
        "release",
        "created_by",
        "created_at",
        "last_change",
    ]
    fields = readonly_fields
    change_form_outer_after_template = "admin_sites/ticket_after.html"
    archived = False
    actions_detail = ["hold_detail", "resume_detail", "cancel_detail", "reroute_detail"]

    @property
    def statuses(self) -> tuple[str, ...]:
        return FINISHED_WORKFLOW_STATUSES if self.archived else ACTIVE_WORKFLOW_STATUSES

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(status__in=self.statuses)  # as the partial indexes say it

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        return ticket_search(queryset, search_term), False

    @display(description=_("updated"))
    def last_change(self, obj: Any) -> str:
        """When its run last moved (the ticket row itself is written once)."""
        moved = obj.workflow_instance.updated_at if obj.workflow_instance else obj.updated_at
        return date_format(timezone.localtime(moved), "DATETIME_FORMAT")

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponseBase:
        """A ticket's history is its events, on its page; the admin's change log has none."""
        ticket = self._ticket_or_404(request, object_id)
        return HttpResponseRedirect(ticket_page(ticket.pk, ticket.status) + "#history")

    @display(description=_("ticket type"))
    def ticket_type_title(self, obj: Any) -> str:
        return str(obj.ticket_type.title)

    @display(description=_("release"))
    def release(self, obj: Any) -> str:
        run = obj.workflow_instance
        return str(run.release) if run else "—"

    @display(description=_("status"))
    def status(self, obj: Any) -> str:
        return str(obj.get_status_display())

    @display(description=_("status"))
    def workflow_status(self, obj: Any) -> str:
        """Where the run stands: its status, its current task, and why it stopped if it did."""
        run = obj.workflow_instance
        if run is None:
            return "—"
        text = str(run.get_status_display())
        if run.current_task_key:
            text += f" — {run.current_task_title}"
        if run.error:
            text += f": {run.error}"
        return text

    # --- the ticket's page -------------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        ticket = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if ticket is not None and ticket.workflow_instance is not None:
            run = ticket.workflow_instance
            tasks = list(ticket_tasks(ticket))
            context.update(
                run=run,
                data_layout=release_frame(
                    run.release,
                    "workflow.display_layout",
                    viewer=cast(User, request.user),
                    key="workflow-display",
                    values=run.data,
                    context=layout_context(
                        ticket,
                        status=run.status,
                        status_label=run.get_status_display(),
                        current_step=next(
                            (t.title for t in reversed(tasks) if t.status in ACTIVE_TASK_STATUSES), ""
                        ),
                        tasks=[task_line(task, internal=True) for task in tasks],
                    ),
                    fallback="ticket-data-rows",
                ),
                data_rows=labelled(run.data, workflow_fields(run)),
                task_rows=[self._task_row(task, run.status) for task in tasks],
                history=history_rows(ticket_history(ticket)),
            )
        return super().change_view(request, object_id, form_url, context)

    @staticmethod
    def _task_row(task: TaskInstance, run_status: str) -> dict[str, Any]:
        active = task.status in ACTIVE_TASK_STATUSES
        page = f"tickets:runtime_{'active' if active else 'archived'}task_change"
        actions = may_retry_or_skip(task, run_status)
        return {
            "task": task,
            "url": reverse(page, args=[task.pk]),
            "who": task_who(task),
            "retry_url": reverse("tickets:runtime_activetask_retry_detail", args=[task.pk])
            if actions
            else "",
            "skip_url": reverse("tickets:runtime_activetask_skip_detail", args=[task.pk]) if actions else "",
        }

    # --- which actions apply ------------------------------------------------------------

    def _ticket_or_404(self, request: HttpRequest, object_id: str) -> TicketInstance:
        ticket = self.get_object(request, object_id)
        if ticket is None or ticket.workflow_instance is None:
            raise Http404("Not found.")
        return cast(TicketInstance, ticket)

    def get_actions_detail(self, request: HttpRequest, object_id: int | str) -> list[Any]:
        """A button shows only where its action applies.

        The actions themselves only need the view right: the service refuses what does not
        apply (any more), and a page opened before someone else acted gets its reason.
        """
        applies = self._applicable(request, str(object_id))
        return [a for a in super().get_actions_detail(request, object_id) if a.method.__name__ in applies]

    def _applicable(self, request: HttpRequest, object_id: str) -> set[str]:
        ticket = self.get_object(request, object_id)
        run = ticket.workflow_instance if ticket is not None else None
        if run is None:
            return set()
        names = set()
        if run.status == WorkflowStatus.IN_PROGRESS:
            names.add("hold_detail")
        if run.status == WorkflowStatus.ON_HOLD:
            names.add("resume_detail")
        if run.status in (WorkflowStatus.IN_PROGRESS, WorkflowStatus.ON_HOLD, WorkflowStatus.ERROR):
            names.add("cancel_detail")
        if run.status == WorkflowStatus.ERROR:
            # Only a run that stopped after a completed task (no transition matched) can look again.
            last = ticket_tasks(ticket).last()
            if last is not None and last.status == TaskStatus.COMPLETED:
                names.add("reroute_detail")
        return names

    # --- the actions -------------------------------------------------------------------

    def _with_note(
        self,
        request: HttpRequest,
        ticket: TicketInstance,
        question: Any,
        detail: Any,
        call: Callable[[User, str], object],
        done: str,
    ) -> HttpResponse:
        form = TicketNoteForm(request.POST if request.method == "POST" else None)
        if not form.is_valid():
            return confirm_page(self, request, ticket, question, detail=detail, note_form=form)
        note = form.cleaned_data["note"]
        return _done_or_told(request, ticket, lambda actor: call(actor, note), done)

    @action(description=_("Put on hold"), url_path="hold", icon="pause", permissions=["view"])
    def hold_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = self._ticket_or_404(request, object_id)
        return self._with_note(
            request,
            ticket,
            _("Put this ticket on hold?"),
            _("No new task starts and its workers cannot complete their tasks until it is resumed."),
            lambda actor, note: runtime_services.ticket_hold(actor=actor, ticket=ticket, note=note),
            str(_("The ticket is on hold.")),
        )

    @action(description=_("Resume"), url_path="resume", icon="play_arrow", permissions=["view"])
    def resume_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = self._ticket_or_404(request, object_id)
        if request.method != "POST":
            detail = _("It goes on where it was put on hold.")
            return confirm_page(self, request, ticket, _("Resume this ticket?"), detail=detail)
        return _done_or_told(
            request,
            ticket,
            lambda actor: runtime_services.ticket_resume(actor=actor, ticket=ticket),
            str(_("The ticket goes on.")),
        )

    @action(description=_("Cancel"), url_path="cancel", icon="cancel", permissions=["view"])
    def cancel_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = self._ticket_or_404(request, object_id)
        return self._with_note(
            request,
            ticket,
            _("Cancel this ticket?"),
            _("It stops for good: its unfinished tasks are cancelled and its submitter is told."),
            lambda actor, note: runtime_services.ticket_cancel(actor=actor, ticket=ticket, note=note),
            str(_("The ticket is cancelled.")),
        )

    @action(description=_("Look for the way on"), url_path="reroute", icon="alt_route", permissions=["view"])
    def reroute_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = self._ticket_or_404(request, object_id)
        if request.method != "POST":
            run = ticket.workflow_instance
            detail = _(
                "It stopped with “%(error)s”. Its transitions are tried again with the data it has now "
                "(fix the workflow, or the data by skipping a task, first)."
            ) % {"error": run.error if run else ""}
            return confirm_page(self, request, ticket, _("Look for the way on again?"), detail=detail)
        try:
            runtime_services.run_reroute(actor=cast(User, request.user), ticket=ticket)
        except runtime_services.WrongState as exc:
            messages.error(request, exc.reason)
            return HttpResponseRedirect(ticket_url(ticket))
        run = WorkflowInstance.objects.get(pk=ticket.workflow_instance_id)
        if run.status == WorkflowStatus.ERROR:
            messages.warning(request, _("Still no way on: %(error)s") % {"error": run.error})
        else:
            messages.success(request, _("The ticket goes on."))
        return HttpResponseRedirect(ticket_url(ticket))


@admin.register(ActiveTicket, site=tickets_site)
class ActiveTicketAdmin(_TicketAdmin):
    pass


@admin.register(ArchivedTicket, site=tickets_site)
class ArchivedTicketAdmin(_TicketAdmin):
    archived = True


class ReassignForm(forms.Form):
    assigned_to = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Assign to"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assigned_to"]
        if isinstance(field, forms.ModelChoiceField):
            field.queryset = available_workers(include_unavailable=True)


class WaitingFilter(DropdownFilter):
    """FORM tasks nobody has yet: in the pool, or waiting for an available worker."""

    title = _("waiting for a worker")
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("any", _("Yes")),
            (Assignment.POOL.value, _("In the pool")),
            (Assignment.AUTO.value, _("For automatic assignment")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "any":
            return queryset.filter(WAITING_FOR_A_WORKER)
        if value in (Assignment.POOL, Assignment.AUTO):
            return queryset.filter(WAITING_FOR_A_WORKER, assignment=value)
        return queryset


class _TaskAdmin(TenantExportMixin, TenantModelAdmin):
    resource_classes = [TaskExportResource]
    allowed = frozenset({"view"})
    list_display = ["__str__", "ticket", "status", "who", "error_text", "created_at", "completed_at"]
    list_filter: list[Any] = [WaitingFilter, StatusFilter, "task_type", ("created_at", CreatedBetween)]
    list_filter_submit = True  # the date range is a form
    search_fields = ["title", "assigned_to__email"]  # see get_search_results
    search_help_text = _("A task or ticket number, a task title, or the assignee's name or e-mail address.")
    list_select_related = ["workflow_instance__ticket__ticket_type", "assigned_to"]
    list_columns = (
        "id",
        "company_id",
        "title",
        "status",
        "task_type",
        "assignment",
        "error",
        "created_at",
        "completed_at",
        "workflow_instance__id",
        "workflow_instance__ticket__id",
        "workflow_instance__ticket__status",
        "workflow_instance__ticket__ticket_type__id",
        "workflow_instance__ticket__ticket_type__title",
        "assigned_to__id",
        "assigned_to__email",
        "assigned_to__first_name",
        "assigned_to__last_name",
    )
    sortable_by = ["created_at"]  # the lists' indexes are by creation time
    readonly_fields = [
        "title",
        "task_key",
        "ticket",
        "status",
        "who",
        "attempts",
        "error_details",
        "input_data",
        "output_data",
        "created_at",
        "started_at",
        "completed_at",
    ]
    fields = readonly_fields
    archived = False
    actions = ["reassign"]
    change_form_outer_after_template = "admin_sites/task_after.html"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """The task's fields, and its input and answer shown by the workflow's layouts."""
        task = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if task is not None:
            context.update(task_layouts(task, cast(User, request.user)))
        return super().change_view(request, object_id, form_url, context)

    @property
    def statuses(self) -> tuple[str, ...]:
        return FINISHED_TASK_STATUSES if self.archived else ACTIVE_TASK_STATUSES

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(status__in=self.statuses)  # as the partial indexes say it

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        return task_search(queryset, search_term), False

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponseBase:
        """A task's history is in its ticket's, on the ticket's page."""
        task = self.get_object(request, object_id)
        if task is None:
            raise Http404("Not found.")
        ticket = task.workflow_instance.ticket
        return HttpResponseRedirect(ticket_page(ticket.pk, ticket.status) + "#history")

    @display(description=_("ticket"))
    def ticket(self, obj: TaskInstance) -> str:
        ticket = obj.workflow_instance.ticket
        url = ticket_page(ticket.pk, ticket.status)
        return format_html('<a class="text-primary-600 underline" href="{}">{}</a>', url, ticket)

    @display(description=_("who"))
    def who(self, obj: TaskInstance) -> str:
        return task_who(obj)

    @display(description=_("error"))
    def error_text(self, obj: TaskInstance) -> str:
        return Truncator(obj.error).chars(120) or "—"

    @display(description=_("error"))
    def error_details(self, obj: TaskInstance) -> str:
        """The whole reason, lines and indentation kept: a code task's traceback reads as written."""
        if not obj.error:
            return "—"
        return format_html(
            '<pre class="whitespace-pre-wrap break-words font-mono text-xs">{}</pre>', obj.error
        )

    @action(description=_("Reassign to a worker"), permissions=["view"])
    def reassign(self, request: HttpRequest, queryset: QuerySet[TaskInstance]) -> HttpResponse | None:
        form = ReassignForm(request.POST if "assigned_to" in request.POST else None)
        if form.is_valid():
            count = runtime_services.tasks_reassign(
                actor=cast(User, request.user), tasks=list(queryset), worker=form.cleaned_data["assigned_to"]
            )
            messages.success(request, _("%(count)d task(s) reassigned.") % {"count": count})
            return HttpResponseRedirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Reassign tasks"),
            "form": form,
            "tasks": queryset,
            "action_name": "reassign",
        }
        return TemplateResponse(request, "admin_sites/reassign.html", context)


@admin.register(ActiveTask, site=tickets_site)
class ActiveTaskAdmin(_TaskAdmin):
    actions_detail = ["retry_detail", "skip_detail"]

    def _task_or_404(self, request: HttpRequest, object_id: str) -> TaskInstance:
        task = self.get_object(request, object_id)
        if task is None:
            raise Http404("Not found.")
        return cast(TaskInstance, task)

    def get_actions_detail(self, request: HttpRequest, object_id: int | str) -> list[Any]:
        """Retry and Skip show for a task in error that stopped its ticket (the services refuse the rest)."""
        task = self.get_object(request, str(object_id))
        if task is None or not may_retry_or_skip(task, task.workflow_instance.status):
            return []
        return list(super().get_actions_detail(request, object_id))

    @action(description=_("Retry"), url_path="retry", icon="replay", permissions=["view"])
    def retry_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        task = self._task_or_404(request, object_id)
        ticket = task.workflow_instance.ticket
        if request.method != "POST":
            detail = _(
                "It stopped with “%(error)s”. It starts again from its first try: an action is called "
                "again (with the same idempotency key), code runs again, a form goes back to a worker."
            ) % {"error": task.error.split("\n", 1)[0]}  # a traceback's first line says what happened
            return confirm_page(self, request, task, _("Try this task again?"), detail=detail)
        return _done_or_told(
            request,
            ticket,
            lambda actor: runtime_services.task_retry(actor=actor, task=task),
            str(_("“%(task)s” is tried again.") % {"task": task.title}),
        )

    @action(description=_("Skip"), url_path="skip", icon="skip_next", permissions=["view"])
    def skip_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Finish a task in error by hand: the admin gives the output it should have given."""
        task = self._task_or_404(request, object_id)
        ticket = task.workflow_instance.ticket
        posted = request.method == "POST"
        form = output_form(task, request.POST if posted else None, files=request.FILES if posted else None)
        if posted and form.is_valid() and form.store_uploads(cast(User, request.user)):
            try:
                runtime_services.task_skip(actor=cast(User, request.user), task=task, output=form.json_data())
            except runtime_services.DataInvalid as exc:
                form.add_field_errors(exc.errors)
            except runtime_services.WrongState as exc:
                messages.error(request, exc.reason)
                return HttpResponseRedirect(ticket_url(ticket))
            else:
                messages.success(
                    request, _("“%(task)s” is skipped; the ticket goes on.") % {"task": task.title}
                )
                return HttpResponseRedirect(ticket_url(ticket))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": task,
            "title": _("Skip “%(task)s”?") % {"task": task.title},
            "task": task,
            "ticket": ticket,
            "form": form,
            "back_url": ticket_url(ticket),
        }
        return TemplateResponse(request, "admin_sites/task_skip.html", context)


@admin.register(ArchivedTask, site=tickets_site)
class ArchivedTaskAdmin(_TaskAdmin):
    archived = True
    actions = []
    # Every finished task by type would walk the archive for a rare type; running ones are few.
    list_filter = [StatusFilter, ("created_at", CreatedBetween)]
