"""What runs: tickets, the workflow each one started, its tasks, and uploaded files.

The engine (a later step) moves these; every status change there is compare-and-set.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ticketflower.definitions.models import TaskDefinition, TicketDefinition, WorkflowDefinition
from ticketflower.tenancy.models import CompanyOwnedModel


class WorkflowStatus(models.TextChoices):
    NOT_STARTED = "NOT_STARTED", _("Not started")
    IN_PROGRESS = "IN_PROGRESS", _("In progress")
    COMPLETED = "COMPLETED", _("Completed")
    CANCELLED = "CANCELLED", _("Cancelled")
    ON_HOLD = "ON_HOLD", _("On hold")


class TaskStatus(models.TextChoices):
    PENDING = "PENDING", _("Pending")
    OPEN = "OPEN", _("Open")
    IN_PROGRESS = "IN_PROGRESS", _("In progress")
    COMPLETED = "COMPLETED", _("Completed")
    CANCELLED = "CANCELLED", _("Cancelled")
    ERROR = "ERROR", _("Error")


ACTIVE_TASK_STATUSES = (TaskStatus.PENDING, TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.ERROR)
ACTIVE_WORKFLOW_STATUSES = (WorkflowStatus.NOT_STARTED, WorkflowStatus.IN_PROGRESS, WorkflowStatus.ON_HOLD)


class WorkflowInstance(CompanyOwnedModel):
    workflow = models.ForeignKey(
        WorkflowDefinition, on_delete=models.PROTECT, related_name="instances", verbose_name=_("workflow")
    )
    # The definition as it was when this instance started: later edits never change a run.
    workflow_version = models.PositiveIntegerField(_("workflow version"))
    snapshot = models.JSONField(_("definition snapshot"), default=dict, editable=False)
    current_task = models.ForeignKey(
        TaskDefinition,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("current task"),
    )
    data = models.JSONField(_("workflow data"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.IN_PROGRESS
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("workflow run")
        verbose_name_plural = _("workflow runs")
        indexes = [models.Index(fields=["company", "status"])]

    def __str__(self) -> str:
        return f"{self.workflow} #{self.pk}"


class TaskInstance(CompanyOwnedModel):
    workflow_instance = models.ForeignKey(
        WorkflowInstance, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("workflow run")
    )
    task_definition = models.ForeignKey(
        TaskDefinition, on_delete=models.PROTECT, related_name="instances", verbose_name=_("task")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING
    )
    input_data = models.JSONField(_("input"), default=dict, blank=True)
    output_data = models.JSONField(_("output"), default=dict, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tasks",
        verbose_name=_("assigned to"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["-created_at"]
        # Granted per task to its assignee (django-guardian): who may act on this task.
        permissions = [("work_on_task", "Can work on this task")]
        indexes = [
            models.Index(fields=["company", "status", "-created_at"]),
            models.Index(fields=["assigned_to", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.task_definition.title} #{self.pk}"


class TicketInstance(CompanyOwnedModel):
    ticket_definition = models.ForeignKey(
        TicketDefinition, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("ticket type")
    )
    workflow_instance = models.OneToOneField(
        WorkflowInstance,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ticket",
        verbose_name=_("workflow run"),
    )
    data = models.JSONField(_("submitted data"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="tickets",
        verbose_name=_("submitted by"),
    )
    created_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["company", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.ticket_definition.title} #{self.pk}"


class FileUpload(CompanyOwnedModel):
    filename = models.CharField(_("file name"), max_length=255)
    version = models.PositiveIntegerField(_("version"), default=1)
    ext_key = models.TextField(_("storage key"))
    file_type = models.CharField(_("file type"), max_length=100, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )

    class Meta:
        verbose_name = _("file")
        verbose_name_plural = _("files")

    def __str__(self) -> str:
        return self.filename


# The ticket-admin site lists running and finished work separately.
class ActiveTicket(TicketInstance):
    class Meta:
        proxy = True
        verbose_name = _("active ticket")
        verbose_name_plural = _("active tickets")


class ArchivedTicket(TicketInstance):
    class Meta:
        proxy = True
        verbose_name = _("archived ticket")
        verbose_name_plural = _("ticket archive")


class ActiveTask(TaskInstance):
    class Meta:
        proxy = True
        verbose_name = _("active task")
        verbose_name_plural = _("active tasks")


class ArchivedTask(TaskInstance):
    class Meta:
        proxy = True
        verbose_name = _("archived task")
        verbose_name_plural = _("task archive")


class MyTask(TaskInstance):
    """A worker's own tasks."""

    class Meta:
        proxy = True
        verbose_name = _("my task")
        verbose_name_plural = _("my tasks")
