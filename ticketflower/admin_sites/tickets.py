"""/tickets/: ticket admins watch every ticket and task of their company and reassign tasks."""

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from ticketflower.accounts.models import User
from ticketflower.admin_sites.dashboards import tickets_dashboard
from ticketflower.admin_sites.resources import TaskExportResource, TicketExportResource
from ticketflower.runtime import services as runtime_services
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    ACTIVE_WORKFLOW_STATUSES,
    ActiveTask,
    ActiveTicket,
    ArchivedTask,
    ArchivedTicket,
    TaskInstance,
)
from ticketflower.runtime.selectors import available_workers
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


class TicketTypeFilter(admin.AllValuesFieldListFilter):
    """Ticket types by title: each release publishes its own rows, people think of one type."""

    title = _("ticket type")


class _TicketAdmin(TenantExportMixin, TenantModelAdmin):
    resource_classes = [TicketExportResource]
    allowed = READ_ONLY
    list_display = ["__str__", "ticket_type_title", "status", "created_by", "created_at"]
    list_filter = [("ticket_type__title", TicketTypeFilter)]
    search_fields = ["ticket_type__title", "created_by__email"]
    list_select_related = ["ticket_type", "created_by", "workflow_instance"]
    readonly_fields = [
        "ticket_type_title",
        "release",
        "created_by",
        "created_at",
        "updated_at",
        "data",
        "workflow_status",
        "task_table",
    ]
    fields = readonly_fields
    show_full_result_count = False  # no COUNT(*) over every ticket on each page
    archived = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if self.archived:
            return queryset.exclude(workflow_instance__status__in=ACTIVE_WORKFLOW_STATUSES)
        return queryset.filter(workflow_instance__status__in=ACTIVE_WORKFLOW_STATUSES)

    @display(description=_("ticket type"), ordering="ticket_type__title")
    def ticket_type_title(self, obj: Any) -> str:
        return str(obj.ticket_type.title)

    @display(description=_("release"))
    def release(self, obj: Any) -> str:
        run = obj.workflow_instance
        return str(run.release) if run else "—"

    @display(description=_("status"))
    def status(self, obj: Any) -> str:
        return str(obj.workflow_instance.get_status_display()) if obj.workflow_instance else "—"

    @display(description=_("workflow status"))
    def workflow_status(self, obj: Any) -> str:
        run = obj.workflow_instance
        if run is None:
            return "—"
        current = f" — {run.current_task_title}" if run.current_task_key else ""
        return f"{run.get_status_display()}{current}"

    @display(description=_("tasks"))
    def task_table(self, obj: Any) -> str:
        if obj.workflow_instance is None:
            return "—"
        tasks = obj.workflow_instance.tasks.select_related("assigned_to").order_by("created_at")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    task.title,
                    task.get_status_display(),
                    task.assigned_to or "—",
                    task.started_at or "—",
                    task.completed_at or "—",
                )
                for task in tasks
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("Task"),
            _("Status"),
            _("Assigned to"),
            _("Started"),
            _("Completed"),
            rows,
        )


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


class _TaskAdmin(TenantExportMixin, TenantModelAdmin):
    resource_classes = [TaskExportResource]
    allowed = frozenset({"view"})
    list_display = ["__str__", "workflow_instance", "status", "assigned_to", "created_at", "completed_at"]
    list_filter = ["status", "task_type"]
    search_fields = ["title", "assigned_to__email"]
    list_select_related = ["workflow_instance__release__workflow", "assigned_to"]
    readonly_fields = [
        "title",
        "task_key",
        "workflow_instance",
        "status",
        "assigned_to",
        "input_data",
        "output_data",
        "created_at",
        "started_at",
        "completed_at",
    ]
    fields = readonly_fields
    show_full_result_count = False
    archived = False
    actions = ["reassign"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if self.archived:
            return queryset.exclude(status__in=ACTIVE_TASK_STATUSES)
        return queryset.filter(status__in=ACTIVE_TASK_STATUSES)

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
    pass


@admin.register(ArchivedTask, site=tickets_site)
class ArchivedTaskAdmin(_TaskAdmin):
    archived = True
    actions = []
