"""Writes on definitions: the draft (save, import a bundle) and its releases (publish, roll back, withdraw).

Two services own all the bookkeeping:

- `workflow_save` records every change of a workflow's draft — the workflow row, a task, a
  transition, a ticket type, an upload, an import row, a revert — as one revision of the
  company's history and numbers it: draft version N is the N-th recorded revision.
- `workflow_publish` (and its two variants, roll back and withdraw) validates the whole bundle
  and freezes it as the next immutable `WorkflowRelease`. Nothing else makes a release, and
  nothing a draft does touches a release: a draft's problems never reach submitters.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import reversion
from django.core.exceptions import PermissionDenied
from django.db import DataError, IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, get_objects_for_user
from reversion.models import Revision, Version

from ticketflower.accounts.models import User
from ticketflower.definitions.bundles import (
    TASK_FIELDS,
    bundle_sha256,
    bundle_with_defaults,
    workflow_bundle,
)
from ticketflower.definitions.models import (
    Assignment,
    ReleaseTicketType,
    TaskDefinition,
    TicketDefinition,
    WorkflowDefinition,
    WorkflowRelease,
    WorkflowTransition,
)
from ticketflower.definitions.selectors import DraftState, current_release, draft_state
from ticketflower.definitions.validation import Problem, validate_bundle
from ticketflower.layouts.compiler import CompilerMissing, LayoutInvalid
from ticketflower.layouts.services import layouts_freeze
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
    "code": "",
}

EDIT_WORKFLOW = "definitions.change_workflowdefinition"


def require_designer(actor: User) -> None:
    if not actor.is_active or not actor.has_system_role(SystemRole.WORKFLOW_CREATOR):
        raise PermissionDenied("This needs the Workflow designer role.")


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


# --- the draft ------------------------------------------------------------------------------


def workflow_save(
    *, actor: User, workflow: WorkflowDefinition, created: bool = False, comment: str = ""
) -> DraftState:
    """Record a change of `workflow`'s draft, already written, as one revision; return the draft's state.

    Call it after writing the workflow or any of its parts, inside the same transaction. It
    joins the revision the caller opened (the admin opens one per request) or opens its own,
    adds the whole draft to it, and numbers the draft: version = recorded revisions + 1.
    A new workflow gets its author, who may always edit it.
    """
    require_designer(actor)
    require_edit_right(actor, workflow)
    with transaction.atomic(), acting_as(actor), company_revision(user=actor, comment=comment):
        # This revision's number in the workflow's history; never lower than before, should
        # old history ever be pruned.
        number = Version.objects.get_for_object(workflow).count() + 1
        if not created:
            current = (
                WorkflowDefinition.objects.filter(pk=workflow.pk).values_list("version", flat=True).get()
            )
            number = max(number, current + 1)
        changes: dict[str, Any] = {"version": number}
        if created and workflow.created_by_id is None:
            changes["created_by"] = actor
        WorkflowDefinition.objects.filter(pk=workflow.pk).update(**changes)
        for name, value in changes.items():
            setattr(workflow, name, value)
        if created:
            assign_perm(EDIT_WORKFLOW, actor, workflow)
        # Added last, so the revision holds every part as written (reversion follows them).
        reversion.add_to_revision(workflow)
        return draft_state(workflow)


@dataclass
class ImportResult:
    """What an upload did, or would do (dry run); nothing was written when `problems`."""

    problems: list[Problem] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    workflow: WorkflowDefinition | None = None
    state: DraftState | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class _DryRun(Exception):
    pass


def bundle_import(
    *,
    actor: User,
    bundle: dict[str, Any],
    into: WorkflowDefinition | None = None,
    dry_run: bool = False,
    comment: str = "Uploaded a bundle",
) -> ImportResult:
    """Create a workflow's draft from a bundle, or bring `into`'s draft in line with it. All or nothing.

    Ids and companies are never read from the bundle: rows are matched by task key and
    ticket-type title inside the target workflow, roles by name inside the actor's company.
    A dry run does all the work inside a transaction that is rolled back, so its preview
    is exactly what a real import would do. What is published does not change: publishing
    is a person's act (`workflow_publish`).
    """
    require_designer(actor)
    if into is not None:
        require_edit_right(actor, into)
    result = ImportResult(problems=validate_bundle(bundle))
    if result.problems:  # the checks below read the bundle's values as valid
        return result
    with acting_as(actor):
        result.problems += role_problems(bundle) + _title_problems(bundle, into)
        if result.problems:
            return result
        try:
            with transaction.atomic():
                result.workflow = _import(actor, bundle, into, result)
                result.state = workflow_save(
                    actor=actor, workflow=result.workflow, created=into is None, comment=comment
                )
                if dry_run:
                    raise _DryRun
        except _DryRun:
            result.workflow = None
        except (DataError, IntegrityError) as exc:
            # Validation checks types, sizes and titles first; this is the database's last word.
            message = str(exc).splitlines()[0]
            result.problems.append(Problem("workflow", f"The database refused this bundle: {message}"))
            result.created, result.updated, result.deleted, result.workflow = [], [], [], None
    return result


def bundle_role_names(bundle: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every company role a bundle names, with its place: tasks' worker roles (when given), then
    ticket types' allowed roles (as written: validation judges what is not a name)."""
    named: list[tuple[str, Any]] = [
        (f"workflow.tasks[{index}].worker_role", task.get("worker_role"))
        for index, task in enumerate(bundle["workflow"].get("tasks") or [])
        if task.get("worker_role") is not None
    ]
    for index, ticket_type in enumerate(bundle.get("ticket_types") or []):
        named += [
            (f"ticket_types[{index}].allowed_roles[{r_index}]", name)
            for r_index, name in enumerate(ticket_type.get("allowed_roles") or [])
        ]
    return named


def role_problems(bundle: dict[str, Any]) -> list[Problem]:
    """Company roles a bundle names that the company does not have."""
    known = {name.lower() for name in CompanyRole.objects.values_list("name", flat=True)}
    problems = []
    for path, name in bundle_role_names(bundle):
        if path.endswith("worker_role") and not (isinstance(name, str) and name):
            continue  # other values: validation's
        if not isinstance(name, str) or name.lower() not in known:
            problems.append(
                Problem(path, f"Unknown company role {name!r}: create it in the company site first.")
            )
    return problems


def _title_problems(bundle: dict[str, Any], into: WorkflowDefinition | None) -> list[Problem]:
    """Titles another workflow of the company already uses (uploads and imports match by title)."""
    problems = []
    title = bundle["workflow"]["title"].strip()
    clash = WorkflowDefinition.objects.filter(title__iexact=title)
    if into is not None:
        clash = clash.exclude(pk=into.pk)
    if clash.exists():
        problems.append(
            Problem(
                "workflow.title",
                f"Your company already has a workflow called “{title}”: choose it under “Replace "
                "workflow” to update it, or give this one another title.",
            )
        )
    for index, spec in enumerate(bundle.get("ticket_types") or []):
        taken = TicketDefinition.objects.filter(title__iexact=spec["title"].strip()).select_related(
            "workflow"
        )
        if into is not None:
            taken = taken.exclude(workflow=into)
        other = taken.first()
        if other is not None:
            problems.append(
                Problem(
                    f"ticket_types[{index}].title",
                    f"The ticket type “{other.title}” already belongs to the workflow “{other.workflow}”.",
                )
            )
    return problems


def _import(
    actor: User, bundle: dict[str, Any], into: WorkflowDefinition | None, result: ImportResult
) -> WorkflowDefinition:
    spec = bundle["workflow"]
    workflow = into or WorkflowDefinition(created_by=actor)
    if into is not None:
        workflow = WorkflowDefinition.objects.select_for_update().get(pk=into.pk)
    for name in ("title", "description", "ext_ref", "fields", "display_layout"):
        setattr(workflow, name, spec.get(name) or ([] if name in ("ext_ref", "fields") else ""))
    workflow.title = workflow.title.strip()
    workflow.save()
    (result.updated if into else result.created).append(f"workflow “{workflow.title}”")

    roles = {role.name.lower(): role for role in CompanyRole.objects.all()}
    existing = {task.key: task for task in workflow.tasks.all()} if into else {}
    tasks: dict[str, TaskDefinition] = {}
    for task_spec in spec.get("tasks") or []:
        task = existing.pop(task_spec["key"], None)
        is_new = task is None
        if task is None:
            task = TaskDefinition(workflow=workflow, created_by=actor)
        for name in TASK_FIELDS:
            value = task_spec.get(name)
            setattr(task, name, copy.deepcopy(TASK_DEFAULTS[name]) if value is None else value)
        task.task_type = task_spec["type"]
        task.assignment = task_spec.get("assignment") or Assignment.AUTO
        role_name = task_spec.get("worker_role")
        task.worker_role = roles[role_name.lower()] if role_name else None
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
        task.delete()  # runs point at their release, never at draft tasks: nothing blocks this
        result.deleted.append(f"task “{key}”")

    current = {t.title.lower(): t for t in workflow.ticket_types.all()} if into else {}
    for ticket_spec in bundle.get("ticket_types") or []:
        ticket_type = current.pop(ticket_spec["title"].strip().lower(), None)
        is_new = ticket_type is None
        if ticket_type is None:
            ticket_type = TicketDefinition(workflow=workflow, created_by=actor)
        ticket_type.title = ticket_spec["title"].strip()
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
    for ticket_type in current.values():
        ticket_type.delete()
        result.deleted.append(f"ticket type “{ticket_type.title}”")
    return workflow


def draft_from_release(*, actor: User, release: WorkflowRelease) -> ImportResult:
    """Bring the draft back to what `release` published, as a new draft version (nothing is published)."""
    return bundle_import(
        actor=actor,
        bundle=release.bundle,
        into=release.workflow,
        comment=f"Draft set to release #{release.number}",
    )


# --- releases --------------------------------------------------------------------------------


@dataclass
class PublishResult:
    """A new release, or the problems that kept one from being made (then nothing was written)."""

    release: WorkflowRelease | None = None
    problems: list[Problem] = field(default_factory=list)
    message: str = ""
    bundle: dict[str, Any] = field(default_factory=dict)  # what the problems' paths point into

    @property
    def ok(self) -> bool:
        return self.release is not None


@transaction.atomic
def workflow_publish(*, actor: User, workflow: WorkflowDefinition, note: str = "") -> PublishResult:
    """Validate the draft's whole bundle and freeze it as the next release. Nothing changes on problems."""
    with _publishing(actor, workflow) as locked:
        bundle = workflow_bundle(locked)
        problems = validate_bundle(bundle) + role_problems(bundle)
        if problems:
            message = _("Not published: the draft has problems.")
            return PublishResult(problems=problems, message=message, bundle=bundle)
        live = current_release(locked)
        if live is not None and not live.withdrawn and live.sha256 == bundle_sha256(bundle):
            return PublishResult(
                release=live,
                message=_("Nothing to publish: release #%(n)d is the draft.") % {"n": live.number},
            )
        try:
            layouts = layouts_freeze(bundle)
        except (LayoutInvalid, CompilerMissing) as exc:
            problem = Problem("workflow", f"The layouts could not be compiled: {exc}")
            return PublishResult(problems=[problem], message=_("Not published."), bundle=bundle)
        release = _release_create(
            actor, locked, bundle, draft_version=locked.version, note=note, layouts=layouts
        )
        return PublishResult(release=release, message=_published_message(release))


@transaction.atomic
def release_rollback(*, actor: User, release: WorkflowRelease, note: str = "") -> PublishResult:
    """Publish an earlier release's bundle again, as the next release number. The draft stays as it is."""
    with _publishing(actor, release.workflow) as locked:
        problems = validate_bundle(release.bundle) + role_problems(release.bundle)
        if problems:
            # Rules and company roles may have changed since it was published.
            message = _("Release #%(n)d no longer validates; nothing was published.") % {"n": release.number}
            return PublishResult(problems=problems, message=message, bundle=release.bundle)
        new = _release_create(
            actor,
            locked,
            release.bundle,
            draft_version=release.draft_version,
            note=note or _("Rolled back to release #%(n)d.") % {"n": release.number},
            rolled_back_to=release,
            draft_revision=release.draft_revision,
            layouts=release.layouts or layouts_freeze(release.bundle),
        )
        return PublishResult(release=new, message=_published_message(new))


@transaction.atomic
def workflow_withdraw(*, actor: User, workflow: WorkflowDefinition, note: str = "") -> PublishResult:
    """Stop offering the workflow's ticket types: a withdrawal release. Running tickets go on."""
    with _publishing(actor, workflow) as locked:
        live = current_release(locked)
        if live is None or live.withdrawn:
            return PublishResult(message=_("Nothing to withdraw: this workflow is not published."))
        new = _release_create(
            actor,
            locked,
            live.bundle,
            draft_version=live.draft_version,
            note=note,
            withdrawn=True,
            draft_revision=live.draft_revision,
            layouts=live.layouts,
        )
        message = _("Withdrawn as release #%(n)d: its ticket types are no longer offered.") % {
            "n": new.number
        }
        return PublishResult(release=new, message=message)


@contextmanager
def _publishing(actor: User, workflow: WorkflowDefinition) -> Iterator[WorkflowDefinition]:
    """Check the actor, act for their company and lock the workflow, so release numbers never clash."""
    require_designer(actor)
    require_edit_right(actor, workflow)
    with acting_as(actor):
        yield WorkflowDefinition.objects.select_for_update().get(pk=workflow.pk)


def _release_create(
    actor: User,
    workflow: WorkflowDefinition,
    bundle: dict[str, Any],
    *,
    draft_version: int,
    note: str,
    rolled_back_to: WorkflowRelease | None = None,
    withdrawn: bool = False,
    draft_revision: Revision | None = None,
    layouts: dict[str, str],
) -> WorkflowRelease:
    # Every task of a release names its assignment and worker role, even when an earlier
    # release's bundle (rolled back to) was written before tasks had them.
    bundle = bundle_with_defaults(bundle)
    number = (workflow.releases.aggregate(n=Max("number"))["n"] or 0) + 1
    latest = Version.objects.get_for_object(workflow).order_by("-pk").first()
    release: WorkflowRelease = WorkflowRelease.objects.create(
        workflow=workflow,
        draft_revision=draft_revision
        if draft_revision is not None
        else (latest.revision if latest else None),
        number=number,
        bundle=bundle,
        sha256=bundle_sha256(bundle),
        layouts=layouts,
        draft_version=draft_version,
        rolled_back_to=rolled_back_to,
        withdrawn=withdrawn,
        published_by=actor,
        note=note.strip(),
    )
    roles = {role.name.lower(): role.pk for role in CompanyRole.objects.all()}
    ReleaseTicketType.objects.bulk_create(
        ReleaseTicketType(
            release=release,
            position=position,
            title=spec["title"],
            description=spec.get("description") or "",
            open_to_all=not spec.get("allowed_roles"),
            allowed_role_ids=[roles[name.lower()] for name in spec.get("allowed_roles") or []],
        )
        for position, spec in enumerate(bundle.get("ticket_types") or [])
    )
    return release


def _published_message(release: WorkflowRelease) -> str:
    offered = [spec["title"] for spec in release.bundle.get("ticket_types") or []]
    what = ", ".join(f"“{title}”" for title in offered) if offered else _("no ticket types")
    return _("Published release #%(n)d. New tickets of %(what)s run it; running tickets keep theirs.") % {
        "n": release.number,
        "what": what,
    }
