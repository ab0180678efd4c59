"""Writes on definitions: saving, activating, and importing bundles.

Every change that alters a workflow, one of its tasks or transitions, or a ticket type bumps
that definition's `version` and is recorded as a revision of the current company. An
active definition that stops validating falls back to draft, with the problems listed.
"""

import copy
from dataclasses import dataclass, field
from typing import Any

import reversion
from django.core.exceptions import PermissionDenied
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, ProtectedError, QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user
from reversion.models import Version

from ticketflower.accounts.models import User
from ticketflower.definitions.bundles import TASK_FIELDS, workflow_bundle
from ticketflower.definitions.models import (
    DefinitionStatus,
    TaskDefinition,
    TicketDefinition,
    WorkflowDefinition,
    WorkflowTransition,
)
from ticketflower.definitions.validation import Problem, validate_bundle
from ticketflower.tenancy.context import acting_as
from ticketflower.tenancy.models import CompanyRole, SystemRole
from ticketflower.tenancy.versions import company_revision

# What a task field is when a bundle leaves it out.
TASK_DEFAULTS: dict[str, Any] = {
    "key": "",
    "title": "",
    "description": "",
    "ext_ref": [],
    "input_schema": {},
    "output_schema": {},
    "edit_layout": "",
    "display_layout": "",
    "action_url": "",
    "input_transform": None,
    "output_transform": None,
    "timeout_seconds": None,
}


def require_designer(actor: User) -> None:
    if not actor.is_active or not actor.has_system_role(SystemRole.WORKFLOW_CREATOR):
        raise PermissionDenied("This needs the Workflow designer role.")


def workflow_problems(workflow: WorkflowDefinition) -> list[Problem]:
    """Every problem of a saved workflow and its ticket types."""
    return validate_bundle(workflow_bundle(workflow))


def ticket_type_problems(ticket_type: TicketDefinition) -> list[Problem]:
    problems = workflow_problems(ticket_type.workflow)
    index = list(ticket_type.workflow.ticket_types.order_by("title", "pk")).index(ticket_type)
    return [
        p for p in problems if p.path.startswith(f"ticket_types[{index}]") or p.path.startswith("workflow")
    ]


EDIT_WORKFLOW = "definitions.change_workflowdefinition"


def may_edit_definition(user: User, definition: Any) -> bool:
    """Whether `user` may change this definition; per-workflow rights apply when the company restricts."""
    if user.company is None or not user.company.restrict_definitions:
        return True
    workflow = definition if isinstance(definition, WorkflowDefinition) else definition.workflow
    return user.has_perm(EDIT_WORKFLOW, workflow)


def require_edit_right(actor: User, definition: Any) -> None:
    if not may_edit_definition(actor, definition):
        raise PermissionDenied("You may not change this workflow.")


def editable_workflows(user: User) -> QuerySet[WorkflowDefinition]:
    """The workflows `user` may change (all of the company's unless it restricts editing)."""
    workflows = WorkflowDefinition.objects.all()
    if user.company is None or not user.company.restrict_definitions:
        return workflows
    return get_objects_for_user(user, EDIT_WORKFLOW, klass=workflows)


def definition_changed(*, actor: User, definition: Any, created: bool) -> list[Problem]:
    """Record who made a definition and bump the version of what changed.

    Call after saving a workflow, task, transition or ticket type. Returns the workflow's
    problems; an active workflow or ticket type with problems is put back to draft.
    """
    with acting_as(actor):
        model = type(definition)
        if created and hasattr(definition, "created_by_id") and definition.created_by_id is None:
            model.objects.filter(pk=definition.pk).update(created_by=actor)
        if created and isinstance(definition, WorkflowDefinition):
            assign_perm(EDIT_WORKFLOW, actor, definition)  # a workflow's author may always edit it
        elif not created and model in (WorkflowDefinition, TaskDefinition, TicketDefinition):
            model.objects.filter(pk=definition.pk).update(version=F("version") + 1)
        workflow = definition if isinstance(definition, WorkflowDefinition) else definition.workflow
        if not isinstance(definition, WorkflowDefinition):  # a new or changed part is a new workflow
            WorkflowDefinition.objects.filter(pk=workflow.pk).update(version=F("version") + 1)
        return _demote_if_invalid(workflow)


def definition_removed(*, actor: User, workflow: WorkflowDefinition) -> list[Problem]:
    """After a task or ticket type is deleted: the workflow is a new version, re-validated."""
    with acting_as(actor):
        WorkflowDefinition.objects.filter(pk=workflow.pk).update(version=F("version") + 1)
        return _demote_if_invalid(workflow)


def parts_changed(*, actor: User, definitions: list[Any]) -> None:
    """Tasks or ticket types edited inline in their workflow's form: each is a new version."""
    with acting_as(actor):
        for definition in definitions:
            type(definition).objects.filter(pk=definition.pk).update(version=F("version") + 1)


VERSIONED = (WorkflowDefinition, TaskDefinition, TicketDefinition)


def versions_before_revert(revision: Any) -> dict[tuple[type[Any], int], int]:
    """The current version numbers of the definitions a revision would restore."""
    before = {}
    for version in revision.version_set.all():
        model = version._model
        if model in VERSIONED:
            pk = int(version.object_id)
            current = model.objects.filter(pk=pk).values_list("version", flat=True).first()
            recorded = Version.objects.get_for_object_reference(model, pk).count()
            before[(model, pk)] = max(current or 0, recorded)
    return before


def versions_after_revert(before: dict[tuple[type[Any], int], int]) -> None:
    """A revert is a new change: every restored definition is numbered past what it had.

    History leaves `version` out, so a reverted row comes back with the default; this puts
    each one at its highest number so far plus one.
    """
    for (model, pk), number in before.items():
        model.objects.filter(pk=pk).update(version=number + 1)


def _demote_if_invalid(workflow: WorkflowDefinition) -> list[Problem]:
    problems = workflow_problems(workflow)
    if problems:
        WorkflowDefinition.objects.filter(pk=workflow.pk).update(status=DefinitionStatus.DRAFT)
        workflow.ticket_types.update(status=DefinitionStatus.DRAFT)
    return problems


@transaction.atomic
def workflow_activate(*, actor: User, workflow: WorkflowDefinition) -> list[Problem]:
    """Make a workflow (and its ticket types) active, unless it has problems: then nothing changes."""
    require_designer(actor)
    require_edit_right(actor, workflow)
    with acting_as(actor):
        workflow = WorkflowDefinition.objects.select_for_update().get(pk=workflow.pk)
        problems = workflow_problems(workflow)
        if problems:
            return problems
        with company_revision(user=actor, comment="Activated"):
            workflow.status = DefinitionStatus.ACTIVE
            workflow.save(update_fields=["status", "updated_at"])
        return []


@transaction.atomic
def workflow_deactivate(*, actor: User, workflow: WorkflowDefinition) -> None:
    require_designer(actor)
    require_edit_right(actor, workflow)
    with acting_as(actor):
        workflow = WorkflowDefinition.objects.select_for_update().get(pk=workflow.pk)
        with company_revision(user=actor, comment="Made a draft"):
            workflow.status = DefinitionStatus.DRAFT
            workflow.save(update_fields=["status", "updated_at"])
            workflow.ticket_types.update(status=DefinitionStatus.DRAFT)


@transaction.atomic
def ticket_type_activate(*, actor: User, ticket_type: TicketDefinition) -> list[Problem]:
    """A ticket type is offered to submitters only when it and its workflow are active."""
    require_designer(actor)
    require_edit_right(actor, ticket_type)
    with acting_as(actor):
        ticket_type = TicketDefinition.objects.select_for_update().get(pk=ticket_type.pk)
        problems = ticket_type_problems(ticket_type)
        if ticket_type.workflow.status != DefinitionStatus.ACTIVE:
            problems.append(Problem("workflow", "Activate the workflow first."))
        if problems:
            return problems
        with company_revision(user=actor, comment="Activated"):
            ticket_type.status = DefinitionStatus.ACTIVE
            ticket_type.save(update_fields=["status", "updated_at"])
        return []


@dataclass
class ImportResult:
    """What an upload did, or would do (dry run); nothing was written when `problems`."""

    problems: list[Problem] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    workflow: WorkflowDefinition | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class _DryRun(Exception):
    pass


def bundle_import(
    *, actor: User, bundle: dict[str, Any], into: WorkflowDefinition | None = None, dry_run: bool = False
) -> ImportResult:
    """Create a workflow from a bundle, or bring `into` in line with it. All or nothing.

    Ids and companies are never read from the bundle: rows are matched by task key and
    ticket-type title inside the target workflow, roles by name inside the actor's company.
    A dry run does all the work inside a transaction that is rolled back, so its preview
    is exactly what a real import would do.
    """
    require_designer(actor)
    if into is not None:
        require_edit_right(actor, into)
    result = ImportResult(problems=validate_bundle(bundle))
    with acting_as(actor):
        result.problems += _role_problems(bundle)
        if result.problems:
            return result
        try:
            with transaction.atomic():
                _import(actor, bundle, into, result)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            result.workflow = None
        except ProtectedError as exc:
            names = ", ".join(sorted({str(obj) for obj in exc.protected_objects})[:5])
            result.problems.append(
                Problem(
                    "workflow", f"This upload would remove definitions that tickets already use: {names}."
                )
            )
            result.created, result.updated, result.deleted, result.workflow = [], [], [], None
        except (DataError, IntegrityError) as exc:  # after ProtectedError, its subclass
            # Validation checks types and sizes first; this is the database's last word.
            message = str(exc).splitlines()[0]
            result.problems.append(Problem("workflow", f"The database refused this bundle: {message}"))
            result.created, result.updated, result.deleted, result.workflow = [], [], [], None
    return result


def _role_problems(bundle: dict[str, Any]) -> list[Problem]:
    known = {name.lower() for name in CompanyRole.objects.values_list("name", flat=True)}
    problems = []
    for index, ticket_type in enumerate(bundle.get("ticket_types") or []):
        for r_index, name in enumerate(ticket_type.get("allowed_roles") or []):
            if not isinstance(name, str) or name.lower() not in known:
                problems.append(
                    Problem(
                        f"ticket_types[{index}].allowed_roles[{r_index}]",
                        f"Unknown company role {name!r}: create it in the company site first.",
                    )
                )
    return problems


def _import(
    actor: User, bundle: dict[str, Any], into: WorkflowDefinition | None, result: ImportResult
) -> None:
    spec = bundle["workflow"]
    with company_revision(user=actor, comment="Uploaded a bundle"):
        workflow = into or WorkflowDefinition(created_by=actor)
        if into is not None:
            workflow = WorkflowDefinition.objects.select_for_update().get(pk=into.pk)
            workflow.version += 1
            workflow.status = DefinitionStatus.DRAFT
        for name in ("title", "description", "ext_ref", "fields", "display_layout"):
            setattr(workflow, name, spec.get(name) or ([] if name in ("ext_ref", "fields") else ""))
        workflow.save()
        if into is None:
            assign_perm(EDIT_WORKFLOW, actor, workflow)
        (result.updated if into else result.created).append(f"workflow “{workflow.title}”")

        existing = {task.key: task for task in workflow.tasks.all()} if into else {}
        tasks: dict[str, TaskDefinition] = {}
        for task_spec in spec.get("tasks") or []:
            task = existing.pop(task_spec["key"], None)
            is_new = task is None
            if task is None:
                task = TaskDefinition(workflow=workflow, created_by=actor)
            else:
                task.version += 1
            for name in TASK_FIELDS:
                value = task_spec.get(name)
                setattr(task, name, copy.deepcopy(TASK_DEFAULTS[name]) if value is None else value)
            task.task_type = task_spec["type"]
            task.save()
            tasks[task.key] = task
            (result.created if is_new else result.updated).append(f"task “{task.key}”")

        workflow.transitions.all().delete()
        WorkflowTransition.objects.bulk_create(
            WorkflowTransition(
                workflow=workflow,
                from_task=tasks[t["from"]] if t.get("from") else None,
                to_task=tasks[t["to"]],
                condition=t.get("condition") or "",
                priority=t.get("priority", 0),
            )
            for t in spec.get("transitions") or []
        )
        for key, task in existing.items():
            task.delete()  # PROTECT keeps tasks that already ran; the import then fails whole
            result.deleted.append(f"task “{key}”")

        roles = {role.name.lower(): role for role in CompanyRole.objects.all()}
        current = {t.title: t for t in workflow.ticket_types.all()} if into else {}
        for ticket_spec in bundle.get("ticket_types") or []:
            ticket_type = current.pop(ticket_spec["title"], None)
            is_new = ticket_type is None
            if ticket_type is None:
                ticket_type = TicketDefinition(workflow=workflow, created_by=actor)
            else:
                ticket_type.version += 1
                ticket_type.status = DefinitionStatus.DRAFT
            ticket_type.title = ticket_spec["title"]
            ticket_type.description = ticket_spec.get("description") or ""
            ticket_type.ext_ref = ticket_spec.get("ext_ref") or []
            ticket_type.fields = ticket_spec.get("fields") or []
            ticket_type.edit_layout = ticket_spec.get("edit_layout") or ""
            ticket_type.display_layout = ticket_spec.get("display_layout") or ""
            ticket_type.save()
            ticket_type.allowed_roles.set(
                [roles[name.lower()] for name in ticket_spec.get("allowed_roles") or []]
            )
            (result.created if is_new else result.updated).append(f"ticket type “{ticket_type.title}”")
        for title, ticket_type in current.items():
            ticket_type.delete()
            result.deleted.append(f"ticket type “{title}”")
        # Record the workflow again now that its tasks and transitions exist: reversion
        # follows relations when an object is added, and bulk-created rows send no signal.
        reversion.add_to_revision(workflow)
        result.workflow = workflow
