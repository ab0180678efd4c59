"""What runs: tickets, the workflow each one started, its tasks, and uploaded files.

A run points at the published release it started from and its tasks at their `key` within
that release — never at the editable draft rows, so editing, re-importing or deleting a
draft never touches (or is blocked by) a running ticket. The engine (a later step) moves
these; every status change there is compare-and-set.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ticketflower.definitions.models import ReleaseTicketType, TaskType, WorkflowRelease
from ticketflower.tenancy.constraints import company_key, same_company
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
    release = models.ForeignKey(
        WorkflowRelease, on_delete=models.RESTRICT, related_name="runs", verbose_name=_("release")
    )
    current_task_key = models.CharField(_("current task"), max_length=64, blank=True)
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
        constraints = [company_key("runtime_workflowrun"), *same_company("runtime_workflowrun", "release")]

    def __str__(self) -> str:
        return f"{self.release.workflow} #{self.pk}"

    @property
    def current_task_title(self) -> str:
        """The current task's title as the run's release names it."""
        for task in self.release.bundle["workflow"]["tasks"]:
            if task["key"] == self.current_task_key:
                return str(task["title"])
        return self.current_task_key


class TaskInstance(CompanyOwnedModel):
    workflow_instance = models.ForeignKey(
        WorkflowInstance, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("workflow run")
    )
    # The task within the run's release; title and type are copied from it for lists.
    task_key = models.CharField(_("task key"), max_length=64)
    title = models.CharField(_("task"), max_length=255)
    task_type = models.CharField(_("type"), max_length=16, choices=TaskType.choices)
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
        constraints = [
            company_key("runtime_task"),
            *same_company("runtime_task", "workflow_instance", "assigned_to"),
        ]

    def __str__(self) -> str:
        return f"{self.title} #{self.pk}"


class TicketInstance(CompanyOwnedModel):
    ticket_type = models.ForeignKey(
        ReleaseTicketType, on_delete=models.RESTRICT, related_name="tickets", verbose_name=_("ticket type")
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
        constraints = [*same_company("runtime_ticket", "ticket_type", "workflow_instance", "created_by")]

    def __str__(self) -> str:
        return f"{self.ticket_type.title} #{self.pk}"


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
        constraints = [*same_company("runtime_file", "uploaded_by")]

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
