"""/worker/: a task worker's own tasks, the page to do one, and the pool to claim from.

Thin admin classes: starting, saving, completing, releasing and claiming are services in
ticketflower.runtime.services; a state the task or ticket is no longer in comes back as
`WrongState` and is shown as its reason. Only FORM tasks are ever here; the server does the
others.
"""

from functools import partial
from typing import Any, ClassVar, cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from ticketflower.accounts.models import User
from ticketflower.admin_sites.dashboards import worker_dashboard
from ticketflower.admin_sites.design import confirm_page
from ticketflower.admin_sites.runs import output_form, output_layout, task_page
from ticketflower.runtime import services
from ticketflower.runtime.forms import LAYOUT_VALUES, DataForm, posted_form
from ticketflower.runtime.models import MyTask, PoolTask, TaskInstance, TaskStatus
from ticketflower.runtime.selectors import claimable_tasks, my_tasks, pool_tasks
from ticketflower.tenancy.admin import TenantAdminSite, TenantModelAdmin
from ticketflower.tenancy.models import SystemRole


class WorkerSite(TenantAdminSite):
    role = SystemRole.TASK_WORKER
    settings_name = "UNFOLD_WORKER"
    site_title = site_header = _("TicketFlower work")
    index_title = _("My work")
    index_template = "admin_sites/dashboard.html"

    def dashboard(self, request: HttpRequest) -> dict[str, Any]:
        return worker_dashboard(cast(User, request.user))


worker_site = WorkerSite(name="worker")


class _TaskListAdmin(TenantModelAdmin):
    """A read-only list of FORM tasks with their tickets; the change page is the task's own page."""

    allowed = frozenset({"view"})
    list_filter = ["status"]
    search_fields = ["title"]
    ordering = ["created_at", "pk"]  # oldest first: it has waited longest
    sortable_by = ["created_at"]  # what the lists' indexes are in
    actions = None
    list_columns: ClassVar[tuple[str, ...]] = (
        "id",
        "company_id",
        "title",
        "status",
        "assigned_at",
        "created_at",
        "workflow_instance__id",
        "workflow_instance__release__id",
        "workflow_instance__release__workflow__id",
        "workflow_instance__release__workflow__title",
        "workflow_instance__ticket__id",
        "workflow_instance__ticket__ticket_type__id",
        "workflow_instance__ticket__ticket_type__title",
    )

    @display(description=_("ticket"))
    def ticket(self, obj: TaskInstance) -> str:
        return str(obj.workflow_instance.ticket)

    @display(description=_("workflow"), ordering="workflow_instance__release__workflow__title")
    def workflow(self, obj: TaskInstance) -> str:
        return str(obj.workflow_instance.release.workflow.title)

    def task_or_404(self, queryset: QuerySet[TaskInstance], object_id: str) -> TaskInstance:
        """The task `object_id` if `queryset` holds it, as this admin's proxy, with its run's
        release, ticket and workflow loaded."""
        try:
            pk = int(object_id)
        except (TypeError, ValueError) as exc:
            raise Http404("Not found.") from exc
        task = (
            cast(QuerySet[TaskInstance], self.model._default_manager.all())
            .filter(pk__in=queryset.filter(pk=pk).values("pk"))
            .select_related(
                "workflow_instance__release__workflow",
                "workflow_instance__ticket__ticket_type",
                "workflow_instance__ticket__created_by",
            )
            .first()
        )
        if task is None:
            raise Http404("Not found.")
        return task

    def render_page(self, request: HttpRequest, task: TaskInstance, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin_sites/task_work.html",
            {
                **self.admin_site.each_context(request),
                **task_page(task, cast(User, request.user)),
                "opts": self.model._meta,
                "original": task,
                "title": task.title,
                "list_url": reverse(f"worker:runtime_{self.model._meta.model_name}_changelist"),
                **context,
            },
        )


@admin.register(MyTask, site=worker_site)
class MyTaskAdmin(_TaskListAdmin):
    """Only the tasks assigned to the logged-in worker; anything else is "not found"."""

    list_display = ["title", "ticket", "workflow", "status", "assigned_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return my_tasks(cast(User, request.user))

    def has_object_permission(self, request: HttpRequest, obj: Any, operation: str) -> bool:
        # Who works on a task is its assignee alone.
        return bool(obj.assigned_to_id == request.user.pk)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/release/", view(self.release_view), name="runtime_mytask_release"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """The task's page: what to do, what it reads, its ticket, and the form to do it with."""
        task = self.task_or_404(self.get_queryset(request), object_id)
        if request.method != "POST":
            return self.work_page(request, task, output_form(task))
        return self.act(request, task, str(request.POST.get("_action") or ""))

    def work_page(self, request: HttpRequest, task: TaskInstance, form: DataForm) -> TemplateResponse:
        return self.render_page(
            request,
            task,
            form=form,
            output_layout=output_layout(task, form, cast(User, request.user)),
            layout_values=LAYOUT_VALUES,
            may_start=task.status == TaskStatus.OPEN,
            release_url=reverse("worker:runtime_mytask_release", args=[task.pk]),
        )

    def act(self, request: HttpRequest, task: TaskInstance, what: str) -> HttpResponse:
        worker = cast(User, request.user)
        here = reverse("worker:runtime_mytask_change", args=[task.pk])
        if what == "start":
            try:
                services.task_start(worker=worker, task=task)
            except services.WrongState as exc:
                messages.error(request, exc.reason)
            else:
                messages.success(request, _("Started. Save keeps what you have so far."))
            return HttpResponseRedirect(here)
        form = posted_form(partial(output_form, task, draft=what == "save"), request.POST, request.FILES)
        if what not in ("save", "complete"):
            if request.POST.get(LAYOUT_VALUES):  # a layout's answers with no button: keep them
                messages.error(request, _("Choose Save or Complete."))
                return self.work_page(request, task, form)
            return HttpResponseRedirect(here)
        if not form.is_valid() or not form.store_uploads(worker):
            return self.work_page(request, task, form)
        try:
            if what == "save":
                services.task_save(worker=worker, task=task, output=form.json_data())
            else:
                services.task_complete(worker=worker, task=task, output=form.json_data())
        except services.DataInvalid as exc:
            form.add_field_errors(exc.errors)
            return self.work_page(request, task, form)
        except services.WrongState as exc:
            messages.error(request, exc.reason)  # what was typed stays on the page
            return self.work_page(request, task, form)
        if what == "save":
            messages.success(request, _("Saved. Complete the task when it is done."))
            return HttpResponseRedirect(here)
        messages.success(request, _("“%(task)s” is completed.") % {"task": task.title})
        return HttpResponseRedirect(reverse("worker:runtime_mytask_changelist"))

    def release_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        task = self.task_or_404(self.get_queryset(request), object_id)
        if request.method != "POST":
            detail = _(
                "It goes back to the pool, where any worker who may do it can claim it. "
                "What you saved stays with the task."
            )
            return confirm_page(self, request, task, _("Give this task back?"), detail=detail)
        try:
            services.task_release(worker=cast(User, request.user), task=task)
        except services.WrongState as exc:
            messages.error(request, exc.reason)
        else:
            messages.success(request, _("“%(task)s” is back in the pool.") % {"task": task.title})
        return HttpResponseRedirect(reverse("worker:runtime_mytask_changelist"))


@admin.register(PoolTask, site=worker_site)
class PoolTaskAdmin(_TaskListAdmin):
    """The pool: unclaimed tasks the logged-in worker may claim, oldest first, one Claim button each."""

    list_display = ["title", "ticket", "workflow", "for_role", "created_at", "claim"]
    list_filter = []
    list_columns = (*_TaskListAdmin.list_columns, "worker_role__id", "worker_role__name")
    list_before_template = "admin_sites/pool_before.html"
    list_after_template = "admin_sites/pool_after.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return pool_tasks(cast(User, request.user))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/claim/", view(self.claim_view), name="runtime_pooltask_claim"),
            *super().get_urls(),
        ]

    @display(description=_("for"))
    def for_role(self, obj: TaskInstance) -> str:
        return str(obj.worker_role) if obj.worker_role_id else str(_("any worker"))

    @display(description="")
    def claim(self, obj: TaskInstance) -> str:
        # The row sits inside the list's own form: the button submits the empty form after the list.
        return format_html(
            '<button type="submit" form="claim-form" formaction="{}" class="{}" data-testid="claim-{}">'
            "{}</button>",
            reverse("worker:runtime_pooltask_claim", args=[obj.pk]),
            "font-medium inline-flex items-center rounded-default px-2.5 py-1.5 bg-primary-600 text-white "
            "cursor-pointer hover:bg-primary-600/80",
            obj.pk,
            _("Claim"),
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        worker = cast(User, request.user)
        return super().changelist_view(
            request, {"unavailable": not worker.is_available, **(extra_context or {})}
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """A look at the task before claiming it."""
        task = self.task_or_404(self.get_queryset(request), object_id)
        return self.render_page(
            request, task, claim_url=reverse("worker:runtime_pooltask_claim", args=[task.pk])
        )

    def claim_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Claim a pool task (POST). Of many claims at once one wins; the others are told it was taken."""
        worker = cast(User, request.user)
        task = self.task_or_404(claimable_tasks(worker), object_id)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("worker:runtime_pooltask_change", args=[task.pk]))
        try:
            services.task_claim(worker=worker, task=task)
        except (services.WrongState, PermissionDenied) as exc:
            messages.error(request, exc.reason if isinstance(exc, services.WrongState) else str(exc))
            return HttpResponseRedirect(reverse("worker:runtime_pooltask_changelist"))
        messages.success(request, _("“%(task)s” is yours now.") % {"task": task.title})
        return HttpResponseRedirect(reverse("worker:runtime_mytask_change", args=[task.pk]))
