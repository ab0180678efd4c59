"""What a company's designers define: workflows, their tasks and transitions, and ticket types.

Definitions are data an assistant can write: fields and schemas are JSON, conditions are CEL
expressions, transforms are JSON-e templates, layouts are React component source.

The rows here are the **draft**: designers (and uploads, and the assistant) edit them freely;
every change is one django-reversion revision of the workflow and a new draft `version`.
Nothing runs from the draft. **Publishing** validates the whole bundle and freezes it as an
immutable `WorkflowRelease`; tickets start from the latest release and keep it to the end.
"""

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from ticketflower.tenancy.constraints import SameCompany, company_key, parent_key, same_company
from ticketflower.tenancy.context import current_company
from ticketflower.tenancy.managers import CompanyScopedManager, CompanyScopedQuerySet
from ticketflower.tenancy.models import CompanyOwnedModel, CompanyRole


class TaskType(models.TextChoices):
    FORM = "FORM", _("Form (a person fills it in)")
    SYNC_ACTION = "SYNC_ACTION", _("Sync action (call an HTTP endpoint)")
    ASYNC_ACTION = "ASYNC_ACTION", _("Async action (call out, wait for a callback)")
    CODE = "CODE", _("Code (Python run in a sandbox)")


class Assignment(models.TextChoices):
    """How a FORM task finds the person who does it (the engine reads it from the release)."""

    AUTO = "auto", _("Auto")
    POOL = "pool", _("Pool")


class Definition(CompanyOwnedModel):
    """What every definition has: a title, notes, references and an author."""

    title = models.CharField(_("title"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    ext_ref = models.JSONField(
        _("external references"),
        default=list,
        blank=True,
        help_text=_('A list of {"label", "description", "uri"} links, e.g. to a policy page.'),
    )
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


class UniqueTitle:
    """Titles unique in the company whatever their case: uploads and imports find rows by title.

    The database constraint spans `company`, which forms never show, so Django's own
    constraint validation skips it; `clean()` checks it with a message for the title field.
    """

    title: Any
    pk: Any
    _meta: Any
    _default_manager: Any

    def clean(self) -> None:
        super().clean()  # type: ignore[misc]
        title = str(self.title or "").strip()
        clash = type(self)._default_manager.filter(title__iexact=title).exclude(pk=self.pk)
        if title and clash.exists():
            name = self._meta.verbose_name
            raise ValidationError(
                {
                    "title": _("Your company already has a %(what)s called “%(title)s”.")
                    % {"what": name, "title": title}
                }
            )


class WorkflowDefinition(UniqueTitle, Definition):
    """A workflow's draft. Its tasks, transitions and ticket types are parts of it."""

    # The draft's number: the count of recorded revisions of this workflow, so version N is
    # the N-th entry of its history. Only `services.workflow_save` sets it.
    version = models.PositiveIntegerField(_("draft version"), default=1, editable=False)
    fields = models.JSONField(
        _("fields"),
        default=list,
        blank=True,
        help_text=_(
            "The workflow's data fields: a list of {name, type, label, required, help_text, options}."
        ),
    )
    display_layout = models.TextField(_("display layout"), blank=True, help_text=_("React component source."))

    class Meta:
        verbose_name = _("workflow")
        verbose_name_plural = _("workflows")
        ordering = ["title"]
        constraints = [
            # Uploads and imports find workflows by title.
            models.UniqueConstraint(
                "company",
                Lower("title"),
                name="definitions_workflow_unique_title",
                violation_error_message=_("Your company already has a workflow with this title."),
            ),
            company_key("definitions_workflow"),
            *same_company("definitions_workflow", "created_by"),
        ]


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
    timeout_seconds = models.PositiveIntegerField(
        _("timeout (seconds)"),
        null=True,
        blank=True,
        help_text=_(
            "Sync actions: how long the request may take (1 to 3,600). Async actions: how long to wait "
            "for the callback. Code tasks: how long the code may run (1 to 60; empty: 10)."
        ),
    )
    code = models.TextField(
        _("code"),
        blank=True,
        help_text=_(
            "Code tasks: Python defining def run(input, context) that returns a dict of the task's "
            "output fields (docs/code-tasks.md)."
        ),
    )
    # Who works on a FORM task; action tasks run by themselves and leave both at their defaults.
    assignment = models.CharField(
        _("assignment"),
        max_length=8,
        choices=Assignment.choices,
        default=Assignment.AUTO,
        help_text=_(
            "Form tasks: Auto gives the task to the eligible available task worker with the "
            "fewest open tasks; Pool lets the eligible task workers see it until one claims it."
        ),
    )
    # SET_NULL: deleting a role empties it in the draft; a release keeps the role's name.
    worker_role = models.ForeignKey(
        CompanyRole,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="worker_tasks",
        verbose_name=_("worker role"),
        help_text=_("Form tasks: only task workers holding this company role may do it. Empty: every one."),
    )

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["workflow", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "key"],
                name="definitions_task_unique_key",
                violation_error_message=_("This workflow already has a task with this key."),
            ),
            company_key("definitions_task"),
            parent_key("definitions_task", "workflow"),
            *same_company("definitions_task", "workflow", "created_by", "worker_role"),
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
        constraints = [
            *same_company("definitions_transition", "workflow", "from_task", "to_task"),
            # A transition joins two tasks of its own workflow.
            SameCompany(
                field="from_task", shared=("workflow",), name="definitions_transition_from_same_workflow"
            ),
            SameCompany(
                field="to_task", shared=("workflow",), name="definitions_transition_to_same_workflow"
            ),
        ]

    def __str__(self) -> str:
        start = self.from_task.key if self.from_task else "start"
        return f"{start} → {self.to_task.key}"


class TicketDefinition(UniqueTitle, Definition):
    workflow = models.ForeignKey(
        WorkflowDefinition, on_delete=models.CASCADE, related_name="ticket_types", verbose_name=_("workflow")
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
        through="TicketTypeRole",
        blank=True,
        related_name="ticket_types",
        verbose_name=_("who may submit"),
        help_text=_("Company roles whose members may submit this ticket type. Empty: everybody."),
    )
    edit_layout = models.TextField(_("edit layout"), blank=True, help_text=_("React component source."))
    display_layout = models.TextField(_("display layout"), blank=True, help_text=_("React component source."))

    class Meta:
        verbose_name = _("ticket type")
        verbose_name_plural = _("ticket types")
        ordering = ["title"]
        constraints = [
            # Uploads and imports find ticket types by title.
            models.UniqueConstraint(
                "company",
                Lower("title"),
                name="definitions_tickettype_unique_title",
                violation_error_message=_("Your company already has a ticket type with this title."),
            ),
            company_key("definitions_tickettype"),
            *same_company("definitions_tickettype", "workflow", "created_by"),
        ]


class TicketTypeRole(CompanyOwnedModel):
    """A company role whose members may submit a ticket type (the draft's `allowed_roles`)."""

    ticket_type = models.ForeignKey(TicketDefinition, on_delete=models.CASCADE, related_name="role_links")
    role = models.ForeignKey(CompanyRole, on_delete=models.CASCADE, related_name="ticket_type_links")

    class Meta:
        verbose_name = _("who may submit")
        verbose_name_plural = _("who may submit")
        constraints = [
            models.UniqueConstraint(fields=["ticket_type", "role"], name="definitions_tickettyperole_unique"),
            *same_company("definitions_tickettyperole", "ticket_type", "role"),
        ]

    def __str__(self) -> str:
        return str(self.role)


class ReleaseImmutable(RuntimeError):
    """Code tried to change or delete a published release."""


class _FrozenQuerySetMixin:
    def update(self, **kwargs: Any) -> int:
        raise ReleaseImmutable("A published release never changes.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ReleaseImmutable("A published release is never deleted.")


class FrozenScopedQuerySet(_FrozenQuerySetMixin, CompanyScopedQuerySet[Any]):
    pass


class FrozenQuerySet(_FrozenQuerySetMixin, models.QuerySet[Any]):
    pass


class FrozenScopedManager(CompanyScopedManager[Any]):
    queryset_class = FrozenScopedQuerySet


class Frozen(CompanyOwnedModel):
    """Rows written once and never changed or deleted (releases and what they publish).

    The model, its default and unscoped managers refuse; a database trigger refuses UPDATE
    too. Deleting the whole company still removes them (the collector deletes in SQL).
    """

    objects: ClassVar[FrozenScopedManager] = FrozenScopedManager()
    unscoped: ClassVar[models.Manager[Any]] = models.Manager.from_queryset(FrozenQuerySet)()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ReleaseImmutable("A published release never changes.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ReleaseImmutable("A published release is never deleted.")


class WorkflowRelease(Frozen):
    """A published workflow: the whole bundle, frozen. Tickets start from the latest one.

    Frozen: it never changes and is never deleted. A rollback or a withdrawal is a new release.
    """

    # RESTRICT: a published workflow cannot be deleted, but a deleted company takes it along.
    workflow = models.ForeignKey(
        WorkflowDefinition, on_delete=models.RESTRICT, related_name="releases", verbose_name=_("workflow")
    )
    number = models.PositiveIntegerField(_("release"))
    bundle = models.JSONField(_("bundle"), editable=False)
    sha256 = models.CharField(_("SHA-256 of the bundle"), max_length=64, editable=False)
    # Each layout of the bundle (path → compiled module's SHA-256), defaults included: what
    # the release runs, whatever the compiler or the defaults become (layouts.services).
    layouts = models.JSONField(_("compiled layouts"), default=dict, editable=False)
    draft_version = models.PositiveIntegerField(
        _("from draft version"), help_text=_("The draft version this release was published from.")
    )
    rolled_back_to = models.ForeignKey(
        "self",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rolled back to"),
        help_text=_("Set when this release publishes an earlier release's bundle again."),
    )
    withdrawn = models.BooleanField(
        _("withdrawn"), default=False, help_text=_("A withdrawal: no new tickets until the next release.")
    )
    # The recorded revision of the draft it was published from (kept by the draft's history).
    draft_revision = models.ForeignKey(
        "reversion.Revision",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("draft revision"),
    )
    # RESTRICT: a release never changes, so its publisher cannot be deleted (people are
    # deactivated); deleting the whole company still takes both along.
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.RESTRICT,
        null=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(_("published"), auto_now_add=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="definitions_release_unique_number"),
            company_key("definitions_release"),
            parent_key("definitions_release", "workflow"),
            *same_company("definitions_release", "workflow", "published_by", "rolled_back_to"),
            SameCompany(
                field="rolled_back_to",
                shared=("workflow",),
                name="definitions_release_rollback_same_workflow",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} #{self.number}"

    def frozen_bundle(self) -> Mapping[str, Any]:
        """The bundle, from this process's cache when it was not loaded: read it, never change it.

        A release never changes, so steps and submissions need not fetch and parse a (possibly
        large) bundle each time: load releases with `.defer("bundle")` and read it here.
        """
        if "bundle" not in self.get_deferred_fields():
            bundle: Mapping[str, Any] = self.bundle
            return bundle
        return _cached_bundle(current_company().pk, self.pk)


@functools.lru_cache(maxsize=256)
def _cached_bundle(company_id: int, release_id: int) -> Mapping[str, Any]:
    # Keyed by the company acting too: its scoped query finds only that company's releases.
    del company_id
    bundle: Mapping[str, Any] = WorkflowRelease.objects.values_list("bundle", flat=True).get(pk=release_id)
    return bundle


class ReleaseTicketType(Frozen):
    """A ticket type as a release publishes it: what the portal offers and tickets belong to.

    Frozen with its release. `allowed_role_ids` are the company roles
    resolved by name when publishing, so renaming a role keeps access; a deleted role simply
    matches nobody (an empty list with `open_to_all` off lets nobody submit: fail closed).
    """

    release = models.ForeignKey(
        WorkflowRelease, on_delete=models.RESTRICT, related_name="ticket_types", verbose_name=_("release")
    )
    position = models.PositiveIntegerField(_("position in the bundle"))
    title = models.CharField(_("title"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    open_to_all = models.BooleanField(_("everybody may submit"))
    allowed_role_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)

    class Meta:
        verbose_name = _("published ticket type")
        verbose_name_plural = _("published ticket types")
        ordering = ["release", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "position"], name="definitions_releasetickettype_unique"
            ),
            company_key("definitions_releasetickettype"),
            *same_company("definitions_releasetickettype", "release"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def spec(self) -> dict[str, Any]:
        """This ticket type's entry in its release's bundle."""
        spec: dict[str, Any] = self.release.frozen_bundle()["ticket_types"][self.position]
        return spec
