"""What a company's designers define: workflows, their tasks and transitions, and ticket types.

Definitions are data an assistant can write: fields and schemas are JSON, conditions are CEL
expressions, transforms are JSON-e templates, layouts are React component source. Every
change bumps `version` and is recorded by django-reversion; a running ticket keeps a snapshot
of the version it started with.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ticketflower.tenancy.models import CompanyOwnedModel, CompanyRole


class DefinitionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")


class TaskType(models.TextChoices):
    FORM = "FORM", _("Form (a person fills it in)")
    SYNC_ACTION = "SYNC_ACTION", _("Sync action (call an HTTP endpoint)")
    ASYNC_ACTION = "ASYNC_ACTION", _("Async action (call out, wait for a callback)")


class Definition(CompanyOwnedModel):
    """What every definition has: a title, notes, references, a version and an author."""

    title = models.CharField(_("title"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    ext_ref = models.JSONField(
        _("external references"),
        default=list,
        blank=True,
        help_text=_('A list of {"label", "description", "uri"} links, e.g. to a policy page.'),
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title


class WorkflowDefinition(Definition):
    fields = models.JSONField(
        _("fields"),
        default=list,
        blank=True,
        help_text=_(
            "The workflow's data fields: a list of {name, type, label, required, help_text, options}."
        ),
    )
    display_layout = models.TextField(_("display layout"), blank=True, help_text=_("React component source."))
    status = models.CharField(
        _("status"), max_length=16, choices=DefinitionStatus.choices, default=DefinitionStatus.DRAFT
    )

    class Meta:
        verbose_name = _("workflow")
        verbose_name_plural = _("workflows")
        ordering = ["title"]
        indexes = [models.Index(fields=["company", "title"])]


class TaskDefinition(Definition):
    workflow = models.ForeignKey(
        WorkflowDefinition, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("workflow")
    )
    key = models.SlugField(
        _("key"),
        max_length=64,
        help_text=_("Short name, unique in its workflow; transitions and bundles refer to tasks by it."),
    )
    task_type = models.CharField(_("type"), max_length=16, choices=TaskType.choices, default=TaskType.FORM)
    input_schema = models.JSONField(
        _("input schema"),
        default=dict,
        blank=True,
        help_text=_("JSON Schema of the workflow fields this task reads."),
    )
    output_schema = models.JSONField(
        _("output schema"),
        default=dict,
        blank=True,
        help_text=_("JSON Schema of the workflow fields this task writes."),
    )
    edit_layout = models.TextField(_("edit layout"), blank=True, help_text=_("React component source."))
    display_layout = models.TextField(_("display layout"), blank=True, help_text=_("React component source."))
    action_url = models.URLField(_("action URL"), max_length=2000, blank=True)
    input_transform = models.JSONField(
        _("input transform"),
        null=True,
        blank=True,
        help_text=_("JSON-e template building the request body from the task's input."),
    )
    output_transform = models.JSONField(
        _("output transform"),
        null=True,
        blank=True,
        help_text=_("JSON-e template turning the response (or callback) into the task's output."),
    )
    timeout_seconds = models.PositiveIntegerField(_("timeout (seconds)"), null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["workflow", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "key"],
                name="definitions_task_unique_key",
                violation_error_message=_("This workflow already has a task with this key."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.key})"


class WorkflowTransition(CompanyOwnedModel):
    """An edge of the workflow. No `from_task` marks the start; lower priority is tried first."""

    workflow = models.ForeignKey(
        WorkflowDefinition, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("workflow")
    )
    from_task = models.ForeignKey(
        TaskDefinition,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outgoing",
        verbose_name=_("from task"),
        help_text=_("Empty: this transition starts the workflow."),
    )
    to_task = models.ForeignKey(
        TaskDefinition, on_delete=models.CASCADE, related_name="incoming", verbose_name=_("to task")
    )
    condition = models.TextField(
        _("condition"),
        blank=True,
        help_text=_("CEL expression over the workflow data, e.g. data.amount > 1000. Empty: always."),
    )
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Lower numbers are tried first."))

    class Meta:
        verbose_name = _("transition")
        verbose_name_plural = _("transitions")
        # The start first, then by source and priority: the order of the bundle and of problem paths.
        ordering = [models.F("from_task").asc(nulls_first=True), "priority", "pk"]

    def __str__(self) -> str:
        start = self.from_task.key if self.from_task else "start"
        return f"{start} → {self.to_task.key}"


class TicketDefinition(Definition):
    workflow = models.ForeignKey(
        WorkflowDefinition, on_delete=models.PROTECT, related_name="ticket_types", verbose_name=_("workflow")
    )
    fields = models.JSONField(
        _("fields"),
        default=list,
        blank=True,
        help_text=_(
            'Which workflow fields the submitter fills in: a list of {"field": name}; '
            'add "preset": value to fill a field without asking.'
        ),
    )
    allowed_roles = models.ManyToManyField(
        CompanyRole,
        blank=True,
        related_name="ticket_types",
        verbose_name=_("who may submit"),
        help_text=_("Company roles whose members may submit this ticket type. Empty: everybody."),
    )
    edit_layout = models.TextField(_("edit layout"), blank=True, help_text=_("React component source."))
    display_layout = models.TextField(_("display layout"), blank=True, help_text=_("React component source."))
    status = models.CharField(
        _("status"), max_length=16, choices=DefinitionStatus.choices, default=DefinitionStatus.DRAFT
    )

    class Meta:
        verbose_name = _("ticket type")
        verbose_name_plural = _("ticket types")
        ordering = ["title"]
