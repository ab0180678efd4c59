"""CSV / XLSX / JSON import and export of the role sites' lists, on the tenant-safe resource base."""

from typing import Any

from django.core.exceptions import ValidationError
from import_export import fields, widgets

from ticketflower.accounts.models import User
from ticketflower.codetasks.checks import code_problems
from ticketflower.definitions import services
from ticketflower.definitions.models import TaskDefinition, TicketDefinition, WorkflowDefinition
from ticketflower.runtime.models import TaskInstance, TicketInstance
from ticketflower.tenancy.models import CompanyRole
from ticketflower.tenancy.resources import TenantResource


class _DefinitionResource(TenantResource):
    """Imported definitions are drafts like edits in the admin: each row is one recorded draft change."""

    def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        instance._imported_new = instance.pk is None  # after saving, nothing else tells
        user = kwargs.get("user")
        if not isinstance(user, User):
            return
        # A restricted company's designers import only into workflows they may edit.
        exists = instance.pk is not None or not isinstance(instance, WorkflowDefinition)
        if exists:
            services.require_edit_right(user, instance)
        if instance.pk is None and instance.created_by_id is None:
            instance.created_by = user

    def after_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        user = kwargs.get("user")
        if isinstance(user, User):
            workflow = instance if isinstance(instance, WorkflowDefinition) else instance.workflow
            created = isinstance(instance, WorkflowDefinition) and getattr(instance, "_imported_new", False)
            services.workflow_save(
                actor=user, workflow=workflow, created=created, comment="Imported from a file"
            )


class WorkflowResource(_DefinitionResource):
    natural_keys = ("title",)

    class Meta:
        model = WorkflowDefinition
        fields = ("title", "description", "fields", "display_layout", "ext_ref", "version")
        export_order = fields
        readonly_fields = ("version",)
        clean_model_instances = True


class RoleNameWidget(widgets.ForeignKeyWidget):
    """One company role by name, whatever its case; empty is none, an unknown name a row error."""

    def __init__(self) -> None:
        super().__init__(CompanyRole, field="name")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> CompanyRole | None:
        name = str(value or "").strip()
        if not name:
            return None
        role = CompanyRole.objects.filter(name__iexact=name).first()
        if role is None:
            raise ValueError(
                f"Unknown company role “{name}”. Create it on the company site first, or correct the name."
            )
        return role


class CodeWidget(widgets.Widget):
    """A CODE task's source: empty, or code that passes the checks (a row error names the line)."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = str(value or "").replace("\r\n", "\n")
        problems = code_problems(text) if text.strip() else []
        if problems:
            raise ValueError("; ".join(str(problem) for problem in problems))
        return text


class TaskResource(_DefinitionResource):
    natural_keys = ("workflow", "key")
    code = fields.Field(attribute="code", column_name="code", widget=CodeWidget())
    workflow = fields.Field(
        attribute="workflow",
        column_name="workflow",
        widget=widgets.ForeignKeyWidget(WorkflowDefinition, "title"),
    )
    worker_role = fields.Field(attribute="worker_role", column_name="worker_role", widget=RoleNameWidget())

    class Meta:
        model = TaskDefinition
        fields = (
            "workflow",
            "key",
            "title",
            "task_type",
            "description",
            "input_schema",
            "output_schema",
            "action_url",
            "timeout_seconds",
            "assignment",
            "worker_role",
            "input_transform",
            "output_transform",
            "code",
            "edit_layout",
            "display_layout",
            "ext_ref",
        )
        export_order = fields
        clean_model_instances = True


class RoleNamesWidget(widgets.ManyToManyWidget):
    """Company roles by name; a name the company does not have is a row error, never dropped.

    Dropping it would turn "only Managers may submit" into "no roles", which means everybody.
    """

    def __init__(self) -> None:
        super().__init__(CompanyRole, field="name", separator=";")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> list[CompanyRole]:
        names = [name.strip() for name in str(value or "").split(self.separator) if name.strip()]
        roles = {role.name.lower(): role for role in CompanyRole.objects.all()}
        unknown = [name for name in names if name.lower() not in roles]
        if unknown:
            raise ValueError(
                "Unknown company role(s): "
                + ", ".join(f"“{name}”" for name in unknown)
                + ". Create them on the company site first, or correct the name."
            )
        return [roles[name.lower()] for name in names]


class TicketTypeResource(_DefinitionResource):
    natural_keys = ("title",)
    workflow = fields.Field(
        attribute="workflow",
        column_name="workflow",
        widget=widgets.ForeignKeyWidget(WorkflowDefinition, "title"),
    )
    allowed_roles = fields.Field(
        attribute="allowed_roles", column_name="allowed_roles", widget=RoleNamesWidget()
    )

    class Meta:
        model = TicketDefinition
        fields = (
            "title",
            "workflow",
            "description",
            "fields",
            "allowed_roles",
            "edit_layout",
            "display_layout",
        )
        export_order = fields
        clean_model_instances = True


class CompanyRoleResource(TenantResource):
    natural_keys = ("name",)

    class Meta:
        model = CompanyRole
        fields = ("name", "description")

    def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        # The unique constraint spans the company column, which imports never set: check here
        # so a clash is a row error with the reason, not a database error.
        clash = CompanyRole.objects.filter(name__iexact=instance.name).exclude(pk=instance.pk)
        if clash.exists():
            raise ValidationError({"name": "Your company already has a role with this name."})


class UserExportResource(TenantResource):
    """Export only: people are added through the company site, which sets their roles."""

    system_roles = fields.Field(column_name="system_roles")

    class Meta:
        model = User
        fields = (
            "email",
            "first_name",
            "last_name",
            "is_active",
            "is_available",
            "last_login",
            "system_roles",
        )
        export_order = fields

    def dehydrate_system_roles(self, user: User) -> str:
        return ";".join(sorted(user.system_roles))


class TicketExportResource(TenantResource):
    number = fields.Field(attribute="pk", column_name="number")  # not `id`: resources never take ids
    ticket_type = fields.Field(attribute="ticket_type__title", column_name="ticket_type")
    submitted_by = fields.Field(attribute="created_by__email", column_name="submitted_by")
    status = fields.Field(attribute="status", column_name="status")

    class Meta:
        model = TicketInstance
        fields = ("number", "ticket_type", "submitted_by", "status", "created_at", "data")
        export_order = fields


class TaskExportResource(TenantResource):
    number = fields.Field(attribute="pk", column_name="number")
    ticket = fields.Field(attribute="workflow_instance__ticket__id", column_name="ticket")
    task = fields.Field(attribute="title", column_name="task")
    assigned = fields.Field(attribute="assigned_to__email", column_name="assigned_to")

    class Meta:
        model = TaskInstance
        fields = (
            "number",
            "ticket",
            "task",
            "status",
            "assigned",
            "created_at",
            "started_at",
            "completed_at",
        )
        export_order = fields
