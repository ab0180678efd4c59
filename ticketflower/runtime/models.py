"""What runs: tickets, the workflow each one started, its tasks, and uploaded files.

A run points at the published release it started from and its tasks at their `key` within
that release — never at the editable draft rows, so editing, re-importing or deleting a
draft never touches (or is blocked by) a running ticket. The engine (a later step) moves
these; every status change there is compare-and-set.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ticketflower.definitions.models import ReleaseTicketType, TaskType, WorkflowRelease
from ticketflower.tenancy.constraints import company_key, same_company
from ticketflower.tenancy.models import Company, CompanyOwnedModel, CompanyRole


class WorkflowStatus(models.TextChoices):
    NOT_STARTED = "NOT_STARTED", _("Not started")
    IN_PROGRESS = "IN_PROGRESS", _("In progress")
    COMPLETED = "COMPLETED", _("Completed")
    CANCELLED = "CANCELLED", _("Cancelled")
    ON_HOLD = "ON_HOLD", _("On hold")
    # Stopped by an error a ticket admin must look at (a task in ERROR, or no way on).
    ERROR = "ERROR", _("Needs attention")


class TaskStatus(models.TextChoices):
    PENDING = "PENDING", _("Pending")
    OPEN = "OPEN", _("Open")
    IN_PROGRESS = "IN_PROGRESS", _("In progress")
    COMPLETED = "COMPLETED", _("Completed")
    CANCELLED = "CANCELLED", _("Cancelled")
    ERROR = "ERROR", _("Error")


ACTIVE_TASK_STATUSES = (TaskStatus.PENDING, TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.ERROR)
ACTIVE_WORKFLOW_STATUSES = (
    WorkflowStatus.NOT_STARTED,
    WorkflowStatus.IN_PROGRESS,
    WorkflowStatus.ON_HOLD,
    WorkflowStatus.ERROR,
)
FINISHED_WORKFLOW_STATUSES = (WorkflowStatus.COMPLETED, WorkflowStatus.CANCELLED)
FINISHED_TASK_STATUSES = (TaskStatus.COMPLETED, TaskStatus.CANCELLED)
# A worker's queue: what is given to them and not finished.
QUEUED_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


class Assignment(models.TextChoices):
    AUTO = "auto", _("Automatic (shortest queue)")
    POOL = "pool", _("Pool (a worker claims it)")


class WorkflowInstance(CompanyOwnedModel):
    release = models.ForeignKey(
        WorkflowRelease, on_delete=models.RESTRICT, related_name="runs", verbose_name=_("release")
    )
    current_task_key = models.CharField(_("current task"), max_length=64, blank=True)
    # How many tasks the run has entered: its loop guard, kept here so a step need not count.
    task_count = models.PositiveIntegerField(_("tasks entered"), default=0, db_default=0, editable=False)
    data = models.JSONField(_("workflow data"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.IN_PROGRESS
    )
    # Why the run stopped (status ERROR), for the ticket admin.
    error = models.TextField(_("error"), blank=True)
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
    # Who works on it: `assigned_to` alone decides (FORM tasks); `assignment` and
    # `worker_role` say how a person is found, copied from the release when the task is created.
    assignment = models.CharField(
        _("assignment"), max_length=8, choices=Assignment.choices, default=Assignment.AUTO
    )
    # RESTRICT: a role cannot go while tasks wait for its holders (SET_NULL would open them to all).
    worker_role = models.ForeignKey(
        CompanyRole,
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("worker role"),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tasks",
        verbose_name=_("assigned to"),
    )
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    # Actions: tries so far, why it stopped, the callback's deadline and the hash of its
    # single-use token; the idempotency key stays the same for every try of this task.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    deadline_at = models.DateTimeField(_("callback deadline"), null=True, blank=True)
    callback_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    idempotency_key = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "status", "-created_at", "-id"], name="runtime_task_status"),
            # The ticket admin's task lists, newest first: running work and the archive.
            models.Index(
                fields=["company", "-created_at", "-id"],
                condition=models.Q(status__in=ACTIVE_TASK_STATUSES),
                name="runtime_task_active",
            ),
            models.Index(
                fields=["company", "-created_at", "-id"],
                condition=models.Q(status__in=FINISHED_TASK_STATUSES),
                name="runtime_task_finished",
            ),
            # Searching by title (titles come from a few task definitions: selectors.task_search),
            # newest first, with the status to tell running from finished in the index itself.
            models.Index(
                fields=["company", "title", "-created_at", "-id"],
                include=["status"],
                name="runtime_task_title",
            ),
            models.Index(fields=["assigned_to", "status"]),
            # "Least recently assigned" for tie-breaks reads one index entry per worker.
            models.Index(fields=["assigned_to", "assigned_at"]),
            # The pool (oldest first) and the tasks waiting for a worker (newest first).
            models.Index(
                fields=["company", "created_at", "id"],
                include=["assignment", "worker_role"],  # who may claim it, read from the index
                condition=models.Q(status="PENDING", task_type="FORM", assigned_to__isnull=True),
                name="runtime_task_waiting",
            ),
        ]
        constraints = [
            company_key("runtime_task"),
            *same_company("runtime_task", "workflow_instance", "assigned_to", "worker_role"),
        ]

    def __str__(self) -> str:
        return f"{self.title} #{self.pk}"


class TicketInstance(CompanyOwnedModel):
    ticket_type = models.ForeignKey(
        ReleaseTicketType,
        on_delete=models.RESTRICT,
        related_name="tickets",
        verbose_name=_("ticket type"),
        db_index=False,  # runtime_ticket_of_type leads with it
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
    # Its run's status, copied by the database (migration 0013's triggers) so that lists and
    # counts of tickets by status read one table. Never written by the application.
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=WorkflowStatus.choices,
        default=WorkflowStatus.IN_PROGRESS,
        db_default=WorkflowStatus.IN_PROGRESS,
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="tickets",
        verbose_name=_("submitted by"),
        db_index=False,  # runtime_ticket_mine leads with it
    )
    created_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "-created_at", "-id"], name="runtime_ticket_newest"),
            # The ticket admin's lists, newest first: running tickets and the archive.
            models.Index(
                fields=["company", "-created_at", "-id"],
                condition=models.Q(status__in=ACTIVE_WORKFLOW_STATUSES),
                name="runtime_ticket_active",
            ),
            models.Index(
                fields=["company", "-created_at", "-id"],
                condition=models.Q(status__in=FINISHED_WORKFLOW_STATUSES),
                name="runtime_ticket_finished",
            ),
            # A ticket type's tickets, and a person's ("my tickets", keyset-paged in the portal
            # and the API), newest first, running or finished told apart in the index.
            models.Index(
                fields=["ticket_type", "-created_at", "-id"],
                include=["status", "company"],
                name="runtime_ticket_of_type",
            ),
            models.Index(
                fields=["created_by", "-created_at", "-id"],
                include=["status", "company", "ticket_type"],
                name="runtime_ticket_mine",
            ),
        ]
        constraints = [
            company_key("runtime_ticket"),
            *same_company("runtime_ticket", "ticket_type", "workflow_instance", "created_by"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_type.title} #{self.pk}"


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    TASK_CREATED = "task_created", _("Task created")
    ASSIGNED = "assigned", _("Assigned")
    WAITING = "waiting", _("Waiting for a worker")
    CLAIMED = "claimed", _("Claimed")
    RELEASED = "released", _("Released to the pool")
    STARTED = "started", _("Started")
    SAVED = "saved", _("Saved")
    ATTEMPT = "attempt", _("Action attempt")
    CODE_RUN = "code_run", _("Code run")
    CALLBACK = "callback", _("Callback")
    TASK_COMPLETED = "task_completed", _("Task completed")
    ERROR = "error", _("Error")
    RETRIED = "retried", _("Retried")
    SKIPPED = "skipped", _("Skipped")
    HELD = "held", _("Put on hold")
    RESUMED = "resumed", _("Resumed")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")


class TicketEvent(CompanyOwnedModel):
    """One thing that happened to a ticket; append-only (the database refuses updates).

    `actor` is the person who did it, or null with `actor_label` naming what did
    ("TicketFlower" for the engine, "callback" for an endpoint).
    """

    ticket = models.ForeignKey(
        TicketInstance, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket")
    )
    task = models.ForeignKey(
        TaskInstance,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("task"),
    )
    kind = models.CharField(_("what"), max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    actor_label = models.CharField(_("by"), max_length=64, blank=True)
    message = models.TextField(_("details"), blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket history")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]
        constraints = [*same_company("runtime_ticketevent", "ticket", "task", "actor")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def by(self) -> str:
        return str(self.actor) if self.actor_id else self.actor_label


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


class WorkerLoad(CompanyOwnedModel):
    """A task worker's queue length and when they last got a task: what assignment sorts by.

    Kept by the database (trigger `runtime_task_worker_load`, migration 0010) on every insert,
    update and delete of a task, so no code path can forget it and assigning need not count
    the tasks of every eligible worker each time. Read-only for the application.
    """

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="load",
        verbose_name=_("worker"),
    )
    open_tasks = models.IntegerField(_("open tasks"), default=0)  # OPEN or IN_PROGRESS
    last_assigned_at = models.DateTimeField(_("last assigned"), null=True, blank=True)

    class Meta:
        verbose_name = _("worker load")
        verbose_name_plural = _("worker loads")
        constraints = [
            *same_company("runtime_workerload", "worker"),
            models.CheckConstraint(
                condition=models.Q(open_tasks__gte=0), name="runtime_workerload_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.open_tasks}"


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


class PoolTask(TaskInstance):
    """Tasks in the pool, for the workers who may claim them (the worker site's "Open tasks")."""

    class Meta:
        proxy = True
        verbose_name = _("open task")
        verbose_name_plural = _("open tasks")


# A count's status is a ticket's (its run's) or a task's; these are the task's own.
STATUS_COUNT_TASK_ONLY = [(s.value, s.label) for s in TaskStatus if s.value not in WorkflowStatus.values]


class CountSubject(models.TextChoices):
    TICKET = "ticket", _("tickets")
    TASK = "task", _("tasks")


class StatusCount(CompanyOwnedModel):
    """How many tickets (per ticket type) or tasks a company has in each status: what dashboards show.

    Kept by the database (triggers of migration 0013) in the same transaction as every change:
    each insert, delete or status change of a ticket or task appends a row of +1 and/or -1, so
    no two transactions ever wait on one counter row. `services.status_counts_fold` (a job,
    every minute) folds the rows into one per company, subject, type and status; a count is the
    sum of its rows. Read-only for the application.

    No foreign keys but the company's, which the database cascades: rows appended while a
    company's tickets are deleted go with the company, and a ticket type that goes leaves only
    rows that fold to nothing.
    """

    company = models.ForeignKey(
        Company,
        on_delete=models.DB_CASCADE,
        related_name="+",
        verbose_name=_("company"),
        editable=False,
        db_index=False,  # runtime_statuscount_company leads with it
    )
    subject = models.CharField(max_length=8, choices=CountSubject.choices)
    ticket_type_id = models.BigIntegerField(null=True, blank=True)  # tickets: their ReleaseTicketType
    status = models.CharField(max_length=16, choices=[*WorkflowStatus.choices, *STATUS_COUNT_TASK_ONLY])
    n = models.IntegerField()

    class Meta:
        verbose_name = _("status count")
        verbose_name_plural = _("status counts")
        indexes = [models.Index(fields=["company", "subject"], name="runtime_statuscount_company")]

    def __str__(self) -> str:
        return f"{self.subject} {self.status}: {self.n}"
