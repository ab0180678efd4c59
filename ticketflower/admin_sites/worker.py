"""/worker/: a task worker's own open and in-progress tasks. Executing them comes with the engine."""

from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ticketflower.accounts.models import User
from ticketflower.admin_sites.dashboards import worker_dashboard
from ticketflower.runtime.models import MyTask
from ticketflower.runtime.selectors import worker_tasks
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


@admin.register(MyTask, site=worker_site)
class MyTaskAdmin(TenantModelAdmin):
    """Only the tasks assigned to the logged-in worker; anything else is "not found"."""

    allowed = frozenset({"view"})
    list_display = ["__str__", "workflow_instance", "status", "created_at", "started_at"]
    list_filter = ["status"]
    search_fields = ["title"]
    readonly_fields = [
        "title",
        "workflow_instance",
        "status",
        "input_data",
        "output_data",
        "created_at",
        "started_at",
        "completed_at",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return worker_tasks(cast(User, request.user))

    def has_object_permission(self, request: HttpRequest, obj: Any, operation: str) -> bool:
        # Who works on a task is its assignee alone.
        return bool(obj.assigned_to_id == request.user.pk)
