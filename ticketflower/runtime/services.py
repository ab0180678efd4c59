"""Writes on running work: submitting tickets, moving runs, people's tasks, actions and callbacks.

The rules live in `engine.py`; this module applies them to the database. Every status change
is a compare-and-set update (`UPDATE … WHERE status IN (…)`), made while the run's row is
locked, so a duplicate or late event changes nothing and is told why (`WrongState`). The jobs
an event triggers are deferred in the same transaction, so both commit or neither does.

Who acts is a `User`, or `ENGINE` for jobs and callbacks (which run in the company context
the job or the callback's task belongs to, never as a person).
"""

import hashlib
import hmac
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DataError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ticketflower.accounts.models import User
from ticketflower.definitions import expressions
from ticketflower.definitions.fields import ticket_type_presets, ticket_type_schema
from ticketflower.definitions.models import ReleaseTicketType, WorkflowRelease
from ticketflower.definitions.selectors import submittable_ticket_types
from ticketflower.files.selectors import file_ids
from ticketflower.files.services import files_attach, files_check
from ticketflower.runtime import engine, jobs, selectors
from ticketflower.runtime.models import (
    ACTIVE_TASK_STATUSES,
    Assignment,
    EventKind,
    TaskInstance,
    TaskStatus,
    TicketEvent,
    TicketInstance,
    WorkflowInstance,
    WorkflowStatus,
)
from ticketflower.tenancy.context import acting_as, current_company
from ticketflower.tenancy.models import CompanyRole, SystemRole, guard_company_write
from ticketflower.tenancy.permissions import require_system_role

if TYPE_CHECKING:
    from ticketflower.codetasks.sandbox import Outcome

logger = logging.getLogger(__name__)


class Engine:
    """The actor of everything no person does: jobs, actions, callbacks, deadlines."""

    label: Final = "TicketFlower"

    def __repr__(self) -> str:
        return "ENGINE"


ENGINE: Final = Engine()
Actor = User | Engine


class WrongState(Exception):
    """The event does not fit where the task or ticket stands now; nothing was changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DataInvalid(Exception):
    """Submitted data or a task output failed its schema; nothing was written."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k or 'data'}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


CANNOT_START = (
    "This ticket type's workflow could not start with these answers. Please tell whoever "
    "designs your company's workflows."
)


@contextmanager
def _acting(actor: Actor) -> Iterator[None]:
    """A person acts for their company; the engine for the company context already set."""
    if isinstance(actor, User):
        with acting_as(actor):
            yield
    else:
        current_company()  # raises without a company context: jobs must enter one first
        yield


def _by(actor: Actor) -> dict[str, Any]:
    return {"actor": actor} if isinstance(actor, User) else {"actor_label": Engine.label}


# The history events of the transaction in progress: inserted together just before it commits.
_pending_events: ContextVar[list[TicketEvent] | None] = ContextVar("ticketflower_events", default=None)


@contextmanager
def _writes() -> Iterator[None]:
    """A transaction of the engine (a savepoint inside another one): its events in one INSERT.

    Inside a service nest only `_writes()`, not a bare `transaction.atomic()`: a savepoint
    rolled back and caught there would still have its events written.
    """
    events = _pending_events.get()
    if events is not None:
        mark = len(events)
        try:
            with transaction.atomic():
                yield
        except BaseException:
            del events[mark:]  # rolled back with the savepoint
            raise
        return
    events = []
    token = _pending_events.set(events)
    try:
        with transaction.atomic():
            yield
            # Unscoped: each event passed the company guard when it was recorded (in _event),
            # in the context it was recorded in; the service may have left that context by now.
            TicketEvent.unscoped.bulk_create(events)
    finally:
        _pending_events.reset(token)


def _event(
    ticket: TicketInstance,
    kind: EventKind,
    actor: Actor,
    *,
    task: TaskInstance | None = None,
    message: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    event = TicketEvent(
        ticket=ticket, task=task, kind=kind, message=message, details=details or {}, **_by(actor)
    )
    pending = _pending_events.get()
    if pending is None:
        event.save()
    else:
        guard_company_write(event)
        pending.append(event)


def _locked_run(run_id: int) -> WorkflowInstance:
    """The run, locked until the transaction ends: one event of a run at a time."""
    run: WorkflowInstance = (
        WorkflowInstance.objects.select_for_update(of=("self",))
        .select_related("release", "ticket__ticket_type", "ticket__created_by")
        .defer("release__bundle", "ticket__data")  # see WorkflowRelease.frozen_bundle
        .get(pk=run_id)
    )
    return run


def _bundle(run: WorkflowInstance) -> Mapping[str, Any]:
    return run.release.frozen_bundle()


def _ticket_facts(run: WorkflowInstance) -> dict[str, Any]:
    """What transforms see as `ticket`."""
    ticket = run.ticket
    return {
        "id": ticket.pk,
        "type": ticket.ticket_type.title,
        "submitted_by": ticket.created_by.email if ticket.created_by else None,
        "submitted_at": ticket.created_at.isoformat(),
    }


def _set_status(task: TaskInstance, to: TaskStatus, allowed: tuple[str, ...], **changes: Any) -> None:
    """Compare-and-set the task's status; WrongState (and no change) when it is not in `allowed`."""
    updated = TaskInstance.objects.filter(pk=task.pk, status__in=allowed).update(status=to, **changes)
    if not updated:
        current = TaskInstance.objects.filter(pk=task.pk).values_list("status", flat=True).first()
        raise WrongState(_wrong_task_state(task, current))
    task.status = to
    for name, value in changes.items():
        setattr(task, name, value)


def _wrong_task_state(task: TaskInstance, status: str | None) -> str:
    label = TaskStatus(status).label if status else "gone"
    if status == TaskStatus.COMPLETED:
        return f"“{task.title}” is already completed."
    if status == TaskStatus.CANCELLED:
        return f"“{task.title}” was cancelled."
    return f"“{task.title}” is {str(label).lower()} now, so this does not apply."


def _save_run(run: WorkflowInstance, **changes: Any) -> None:
    """Write changes of a run whose row this transaction locked (or has just created)."""
    WorkflowInstance.objects.filter(pk=run.pk).update(updated_at=timezone.now(), **changes)
    for name, value in changes.items():
        setattr(run, name, value)


def _set_run_status(
    run: WorkflowInstance, to: WorkflowStatus, allowed: tuple[str, ...], **changes: Any
) -> None:
    updated = WorkflowInstance.objects.filter(pk=run.pk, status__in=allowed).update(
        status=to, updated_at=timezone.now(), **changes
    )
    if not updated:
        current = WorkflowInstance.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        label = str(WorkflowStatus(current or run.status).label).lower()
        raise WrongState(f"The ticket is {label}, so this does not apply.")
    run.status = to
    for name, value in changes.items():
        setattr(run, name, value)


# --- submitting ---------------------------------------------------------------------------------


def ticket_type_for(user: User, ticket_type: ReleaseTicketType) -> ReleaseTicketType:
    """The ticket type as `user` may submit it now: the same title in its workflow's latest release.

    A link to a superseded release's type keeps working; one the user may not submit (any
    more) raises PermissionDenied.
    """
    if ticket_type.company_id != current_company().pk:
        raise PermissionDenied("You may not submit this ticket type.")
    release = ticket_type.release
    latest = (
        WorkflowRelease.objects.filter(workflow_id=release.workflow_id)
        .order_by("-number")
        .values_list("pk", "withdrawn")
        .first()
    )
    if latest == (release.pk, False):  # the usual case, in two small queries
        if ticket_type.open_to_all or set(ticket_type.allowed_role_ids) & set(
            user.company_roles.values_list("pk", flat=True)
        ):
            return ticket_type
        raise PermissionDenied("You may not submit this ticket type.")
    current = (
        submittable_ticket_types(user)
        .filter(release__workflow_id=ticket_type.release.workflow_id, title__iexact=ticket_type.title)
        .select_related("release")
        .first()
    )
    if current is None:
        raise PermissionDenied("You may not submit this ticket type.")
    return current


def submission_errors(ticket_type: ReleaseTicketType, data: Any) -> dict[str, list[str]]:
    if not isinstance(data, dict):
        return {"": ["The data must be a JSON object."]}
    schema = ticket_type_schema(ticket_type.spec, ticket_type.release.frozen_bundle()["workflow"]["fields"])
    try:
        return expressions.field_errors(schema, data)
    except expressions.ExpressionError as exc:  # over a time or memory limit
        return {"": [str(exc)]}


def ticket_submit(*, ticket_type: ReleaseTicketType, submitted_by: User, data: Any) -> TicketInstance:
    """Submit a ticket: it, its run, its first task and the jobs they need commit together.

    Raises PermissionDenied when `submitted_by` may not submit the type, DataInvalid (nothing
    written) when `data` does not satisfy the type's fields.
    """
    with acting_as(submitted_by):
        ticket_type = ticket_type_for(submitted_by, ticket_type)
        errors = submission_errors(ticket_type, data)
        if errors:
            raise DataInvalid(errors)
        files = file_ids(ticket_type.release.frozen_bundle()["workflow"]["fields"], data)
        data = {**data, **ticket_type_presets(ticket_type.spec)}
        release = ticket_type.release
        try:
            first = engine.first_task(release.frozen_bundle(), data)
        except engine.EngineError as exc:
            # The start does not hold for these answers: a design problem, not the submitter's.
            logger.warning("Ticket type %s could not start its workflow: %s", ticket_type.pk, exc.reason)
            raise DataInvalid({"": [CANNOT_START]}) from exc
        with _writes():
            errors = files_check(actor=submitted_by, ticket=None, ids=files)
            if errors:
                raise DataInvalid(errors)
            run = WorkflowInstance.objects.create(
                release=release,
                data=data,
                status=WorkflowStatus.IN_PROGRESS,
                current_task_key=first["key"],
                task_count=1,
            )
            ticket: TicketInstance = TicketInstance.objects.create(
                ticket_type=ticket_type, workflow_instance=run, data=data, created_by=submitted_by
            )
            run.ticket = ticket
            files_attach(ticket=ticket, ids=files)
            _event(ticket, EventKind.SUBMITTED, submitted_by)
            _start(run, first)
        return ticket


# --- moving a run -------------------------------------------------------------------------------


def _enter(run: WorkflowInstance, spec: engine.TaskSpec, **run_changes: Any) -> TaskInstance:
    """Move the run on to its next task (`run_changes` go into the same UPDATE of the run)."""
    if run.task_count >= settings.RUN_MAX_TASKS:
        loop = f"The run went through {settings.RUN_MAX_TASKS} tasks; it looks like an endless loop."
        _run_error(run, loop, **run_changes)
        raise _Stopped
    _save_run(run, current_task_key=spec["key"], task_count=run.task_count + 1, **run_changes)
    return _start(run, spec)


def _start(run: WorkflowInstance, spec: engine.TaskSpec) -> TaskInstance:
    """Create the run's current task and get it going (a person, the pool, or an action job).

    A task for the shortest queue is written already assigned: one INSERT, no UPDATE after.
    """
    role_name = spec.get("worker_role")
    role = _worker_role(role_name)
    # Fail closed: a role renamed or deleted since publishing matches nobody, never everybody.
    role_missing = bool(role_name) and role is None
    task = TaskInstance(
        workflow_instance=run,
        task_key=spec["key"],
        title=spec["title"],
        task_type=spec["type"],
        status=TaskStatus.PENDING,
        input_data=engine.task_input(spec, run.data),
        assignment=spec.get("assignment") or Assignment.AUTO,
        worker_role=role,
    )
    for_a_person = not engine.is_automated(spec) and task.assignment == Assignment.AUTO and not role_missing
    worker = _shortest_queue(task) if for_a_person else None
    if worker is not None:
        task.status, task.assigned_to, task.assigned_at = TaskStatus.OPEN, worker, timezone.now()
    task.save()
    _event(run.ticket, EventKind.TASK_CREATED, ENGINE, task=task, message=task.title)
    if role_missing:
        _task_error(run, task, _missing_role(task, role_name or ""), (TaskStatus.PENDING,))
    elif engine.is_automated(spec):
        if not _automating.get():  # inside run_step the running job goes on to it
            jobs.defer_run_step(run)
    elif task.assignment == Assignment.POOL:
        _event(run.ticket, EventKind.WAITING, ENGINE, task=task, details={"pool": True})
        jobs.defer_notify_pool(task)
    elif worker is None:
        _event(run.ticket, EventKind.WAITING, ENGINE, task=task, details={"pool": False})
    else:
        _assigned(run.ticket, task, worker)
    return task


def _worker_role(name: str | None) -> CompanyRole | None:
    """The company role a release names (by name, whatever its case), if it still exists."""
    return CompanyRole.objects.filter(name__iexact=name).first() if name else None


def _missing_role(task: TaskInstance, name: str) -> str:
    return f"Nobody can take “{task.title}”: the company has no role “{name}” any more."


class _Stopped(Exception):
    """The run stopped in error while entering a task (already recorded)."""


def _run_error(
    run: WorkflowInstance, reason: str, task: TaskInstance | None = None, **run_changes: Any
) -> None:
    _set_run_status(run, WorkflowStatus.ERROR, (WorkflowStatus.IN_PROGRESS,), error=reason, **run_changes)
    _event(run.ticket, EventKind.ERROR, ENGINE, task=task, message=reason)
    jobs.defer_notify_finished(run.ticket)


def _advance(run: WorkflowInstance, after: TaskInstance, **run_changes: Any) -> TaskInstance | None:
    """Take the way on after `after` completed: the next task, the end, or an error.

    `run_changes` (the merged data) are written with the run's one UPDATE of this step.
    """
    bundle = _bundle(run)
    step = engine.next_step(bundle, engine.task_spec(bundle, after.task_key), run.data)
    if step.outcome == "completed":
        _set_run_status(run, WorkflowStatus.COMPLETED, (WorkflowStatus.IN_PROGRESS,), error="", **run_changes)
        _event(run.ticket, EventKind.COMPLETED, ENGINE)
        jobs.defer_notify_finished(run.ticket)
        return None
    if step.outcome == "error" or step.task is None:
        _run_error(run, step.reason, after, **run_changes)
        return None
    try:
        return _enter(run, step.task, **run_changes)
    except _Stopped:
        return None


def _complete(
    run: WorkflowInstance,
    task: TaskInstance,
    output: dict[str, Any],
    actor: Actor,
    allowed: tuple[str, ...],
    kind: EventKind = EventKind.TASK_COMPLETED,
    message: str = "",
) -> TaskInstance | None:
    """Finish `task` with a validated `output`, merge it and move on. Call with the run locked."""
    spec = engine.task_spec(_bundle(run), task.task_key)
    try:
        data = engine.merged(spec, run.data, output)
    except engine.OutputInvalid as exc:
        raise DataInvalid(exc.errors) from exc
    if isinstance(actor, User):  # what an action's endpoint answers names no upload of ours
        _attach_output_files(run, task, actor, output)
    _set_status(
        task, TaskStatus.COMPLETED, allowed, output_data=output, completed_at=timezone.now(), error=""
    )
    run.data = data
    _event(run.ticket, kind, actor, task=task, message=message or task.title, details={"output": output})
    if task.assigned_to_id and task.task_type == "FORM":
        jobs.defer_assign_waiting()
    if run.status != WorkflowStatus.IN_PROGRESS:
        _save_run(run, data=data)
        return None  # on hold: the way on is taken when the ticket is resumed
    return _advance(run, task, data=data)


def _attach_output_files(
    run: WorkflowInstance, task: TaskInstance, person: User, output: Mapping[str, Any]
) -> None:
    """A person's files in a task's answer (their own uploads or the ticket's), now the task's."""
    files = file_ids(_bundle(run)["workflow"].get("fields") or [], output)
    errors = files_check(actor=person, ticket=run.ticket, ids=files)
    if errors:
        raise DataInvalid(errors)
    files_attach(ticket=run.ticket, ids=files, task=task)


# --- assignment ---------------------------------------------------------------------------------

# pg_advisory_xact_lock(class, company): one assignment decision per company at a time, so two
# tasks created together never both see the same worker as the shortest queue.
_ASSIGN_LOCK = 7301


def eligible_workers(task: TaskInstance) -> QuerySet[User]:
    """Active, available task workers (holding the task's role, if it names one), shortest queue first."""
    workers = selectors.available_workers()
    if task.worker_role_id:
        workers = workers.filter(company_roles=task.worker_role_id)
    return workers


def _may_work_on(user: User, task: TaskInstance) -> bool:
    return bool(user.is_active and eligible_workers(task).filter(pk=user.pk).exists())


def _shortest_queue(task: TaskInstance) -> User | None:
    """The eligible worker with the fewest open tasks (ties: least recently assigned), if any.

    Holds the company's assignment lock until the transaction ends: assign what it returns
    in this transaction.
    """
    _lock_assignments()
    return eligible_workers(task).first()


def _lock_assignments() -> None:
    """No other assignment in this company until the transaction ends, so queues stay even.

    The database takes the same lock (trigger runtime_task_worker_load) before it changes a
    worker's load. Lock the run first: never wait for a run's lock while holding this one.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ASSIGN_LOCK, current_company().pk])


def _auto_assign(task: TaskInstance, ticket: TicketInstance, *, record_waiting: bool = True) -> bool:
    """Give a waiting `task` to the shortest queue; False (and it waits on) when nobody may take it."""
    worker = _shortest_queue(task)
    if worker is None:
        if record_waiting:
            _event(ticket, EventKind.WAITING, ENGINE, task=task, details={"pool": False})
        return False
    _set_status(task, TaskStatus.OPEN, (TaskStatus.PENDING,), assigned_to=worker, assigned_at=timezone.now())
    _assigned(ticket, task, worker)
    return True


def _assigned(ticket: TicketInstance, task: TaskInstance, worker: User) -> None:
    _event(ticket, EventKind.ASSIGNED, ENGINE, task=task, message=str(worker), details={"to": worker.email})
    jobs.defer_notify_assigned(task)


def waiting_tasks_assign(*, limit: int = 200) -> int:
    """Assign the oldest automatic FORM tasks that wait for a worker; how many were given out."""
    waiting = TaskInstance.objects.filter(
        status=TaskStatus.PENDING, task_type="FORM", assigned_to__isnull=True, assignment=Assignment.AUTO
    ).order_by("created_at", "pk")
    given = 0
    for task_id, run_id in list(waiting.values_list("pk", "workflow_instance_id")[:limit]):
        with _writes():
            run = _locked_run(run_id)
            task = TaskInstance.objects.get(pk=task_id)  # read under the run's lock
            if (
                task.status != TaskStatus.PENDING
                or task.assigned_to_id
                or run.status != WorkflowStatus.IN_PROGRESS
            ):
                continue
            # A task nobody may take now waits on; later ones (other roles) may still go.
            given += _auto_assign(task, run.ticket, record_waiting=False)
    return given


# --- people's tasks -----------------------------------------------------------------------------


def _task_for_update(task_id: int) -> tuple[WorkflowInstance, TaskInstance]:
    task = TaskInstance.objects.get(pk=task_id)
    run = _locked_run(task.workflow_instance_id)
    task = TaskInstance.objects.select_related("assigned_to").get(pk=task_id)
    return run, task


def _my_task(worker: User, task: TaskInstance) -> tuple[WorkflowInstance, TaskInstance]:
    """The task, fresh under its run's lock, if it is assigned to `worker`; WrongState otherwise."""
    run, task = _task_for_update(task.pk)
    if task.assigned_to_id != worker.pk:
        raise WrongState(f"“{task.title}” is not assigned to you.")
    return run, task


def _require_runnable(run: WorkflowInstance) -> None:
    if run.status != WorkflowStatus.IN_PROGRESS:
        raise WrongState(f"The ticket is {str(WorkflowStatus(run.status).label).lower()}, so its tasks wait.")


@_writes()
def task_claim(*, worker: User, task: TaskInstance) -> TaskInstance:
    """Take a task from the pool: exactly one of many concurrent claims wins."""
    with acting_as(worker):
        require_system_role(worker, SystemRole.TASK_WORKER)
        run, task = _task_for_update(task.pk)
        if task.task_type != "FORM" or task.assignment != Assignment.POOL:
            raise WrongState(f"“{task.title}” is not in the pool.")
        if not (worker.is_active and worker.is_available):
            raise PermissionDenied("You are marked unavailable for tasks: turn that off first.")
        if not _may_work_on(worker, task):
            raise PermissionDenied("This task is for workers with another role.")
        if task.assigned_to_id and task.status != TaskStatus.PENDING:
            raise WrongState(f"“{task.title}” was already taken.")
        _set_status(
            task, TaskStatus.OPEN, (TaskStatus.PENDING,), assigned_to=worker, assigned_at=timezone.now()
        )
        _event(run.ticket, EventKind.CLAIMED, worker, task=task)
        return task


@_writes()
def task_release(*, worker: User, task: TaskInstance) -> TaskInstance:
    """Give an unfinished task back: it goes to the pool for eligible workers to claim."""
    with acting_as(worker):
        run, task = _my_task(worker, task)
        _set_status(
            task,
            TaskStatus.PENDING,
            (TaskStatus.OPEN, TaskStatus.IN_PROGRESS),
            assigned_to=None,
            assigned_at=None,
            assignment=Assignment.POOL,
        )
        _event(run.ticket, EventKind.RELEASED, worker, task=task)
        jobs.defer_notify_pool(task)
        return task


@_writes()
def task_start(*, worker: User, task: TaskInstance) -> TaskInstance:
    with acting_as(worker):
        run, task = _my_task(worker, task)
        _require_runnable(run)
        _set_status(task, TaskStatus.IN_PROGRESS, (TaskStatus.OPEN,), started_at=timezone.now())
        _event(run.ticket, EventKind.STARTED, worker, task=task)
        return task


@_writes()
def task_save(*, worker: User, task: TaskInstance, output: Any) -> TaskInstance:
    """Keep a draft of the output (only the task's own fields; completing validates it all)."""
    with acting_as(worker):
        run, task = _my_task(worker, task)
        _require_runnable(run)
        spec = engine.task_spec(_bundle(run), task.task_key)
        if not isinstance(output, dict):
            raise DataInvalid({"": ["The output must be a JSON object."]})
        unknown = engine.unknown_output_fields(spec, output)
        if unknown:
            raise DataInvalid(unknown)
        _attach_output_files(run, task, worker, output)
        started = {"started_at": task.started_at or timezone.now()}
        _set_status(
            task,
            TaskStatus.IN_PROGRESS,
            (TaskStatus.OPEN, TaskStatus.IN_PROGRESS),
            output_data=output,
            **started,
        )
        _event(run.ticket, EventKind.SAVED, worker, task=task)
        return task


@_writes()
def task_complete(*, worker: User, task: TaskInstance, output: Any) -> TaskInstance:
    """Complete a FORM task with its output (validated; field errors raise DataInvalid)."""
    with acting_as(worker):
        run, task = _my_task(worker, task)
        _require_runnable(run)
        if task.task_type != "FORM":
            raise WrongState(f"“{task.title}” is done by the server, not by a person.")
        if task.started_at is None:
            task.started_at = timezone.now()
            TaskInstance.objects.filter(pk=task.pk).update(started_at=task.started_at)
        _complete(run, task, output, worker, (TaskStatus.OPEN, TaskStatus.IN_PROGRESS))
        return task


# --- ticket admins ------------------------------------------------------------------------------


def _admin_task(actor: User, task: TaskInstance) -> tuple[WorkflowInstance, TaskInstance]:
    require_system_role(actor, SystemRole.TICKET_ADMIN)
    return _task_for_update(task.pk)


@_writes()
def task_retry(*, actor: User, task: TaskInstance) -> TaskInstance:
    """Try an ERROR task again from the start (an action is called again, same idempotency key)."""
    with acting_as(actor):
        run, task = _admin_task(actor, task)
        _set_status(task, TaskStatus.PENDING, (TaskStatus.ERROR,), attempts=0, error="", deadline_at=None)
        _set_run_status(run, WorkflowStatus.IN_PROGRESS, (WorkflowStatus.ERROR,), error="")
        _event(run.ticket, EventKind.RETRIED, actor, task=task)
        if task.task_type != "FORM":
            jobs.defer_run_step(run)
        elif task.assigned_to_id is not None:
            _set_status(task, TaskStatus.OPEN, (TaskStatus.PENDING,))
        else:
            role_name = engine.task_spec(_bundle(run), task.task_key).get("worker_role")
            task.worker_role = _worker_role(role_name)
            TaskInstance.objects.filter(pk=task.pk).update(worker_role=task.worker_role)
            if role_name and task.worker_role is None:
                _task_error(run, task, _missing_role(task, role_name), (TaskStatus.PENDING,))
            elif task.assignment == Assignment.AUTO:
                _auto_assign(task, run.ticket)
        return task


@_writes()
def task_skip(*, actor: User, task: TaskInstance, output: Any) -> TaskInstance:
    """Finish an ERROR task by hand with the output it should have given (validated)."""
    with acting_as(actor):
        run, task = _admin_task(actor, task)
        if task.status != TaskStatus.ERROR:
            raise WrongState(_wrong_task_state(task, task.status))
        _set_run_status(run, WorkflowStatus.IN_PROGRESS, (WorkflowStatus.ERROR,), error="")
        _complete(run, task, output, actor, (TaskStatus.ERROR,), kind=EventKind.SKIPPED)
        return task


@_writes()
def run_reroute(*, actor: User, ticket: TicketInstance) -> TicketInstance:
    """Try the way on again for a run that stopped because no transition matched."""
    with acting_as(actor):
        require_system_role(actor, SystemRole.TICKET_ADMIN)
        run = _locked_run(ticket.workflow_instance_id or 0)
        last = run.tasks.order_by("-pk").first()
        if run.status != WorkflowStatus.ERROR or last is None or last.status != TaskStatus.COMPLETED:
            raise WrongState("Only a ticket stopped after a completed task can look for its way on again.")
        _set_run_status(run, WorkflowStatus.IN_PROGRESS, (WorkflowStatus.ERROR,), error="")
        _event(run.ticket, EventKind.RETRIED, actor, details={"reroute": True})
        _advance(run, last)
        return ticket


@_writes()
def ticket_hold(*, actor: User, ticket: TicketInstance, note: str = "") -> TicketInstance:
    """Pause a ticket: no new task starts and its tasks wait until it is resumed."""
    with acting_as(actor):
        require_system_role(actor, SystemRole.TICKET_ADMIN)
        run = _locked_run(ticket.workflow_instance_id or 0)
        _set_run_status(run, WorkflowStatus.ON_HOLD, (WorkflowStatus.IN_PROGRESS,))
        _event(ticket, EventKind.HELD, actor, message=note)
        return ticket


@_writes()
def ticket_resume(*, actor: User, ticket: TicketInstance) -> TicketInstance:
    """Go on where the ticket was put on hold."""
    with acting_as(actor):
        require_system_role(actor, SystemRole.TICKET_ADMIN)
        run = _locked_run(ticket.workflow_instance_id or 0)
        current = run.tasks.order_by("-pk").first()
        if current is not None and current.status == TaskStatus.ERROR:
            # It failed while on hold: resumed, it needs attention (retry or skip).
            _set_run_status(run, WorkflowStatus.ERROR, (WorkflowStatus.ON_HOLD,), error=current.error)
            _event(ticket, EventKind.RESUMED, actor, message=current.error)
            jobs.defer_notify_finished(run.ticket)
            return ticket
        _set_run_status(run, WorkflowStatus.IN_PROGRESS, (WorkflowStatus.ON_HOLD,))
        _event(ticket, EventKind.RESUMED, actor)
        if current is not None and current.status == TaskStatus.COMPLETED:
            _advance(run, current)  # it was completed while on hold
        elif current is not None and current.task_type != "FORM":
            if current.status == TaskStatus.PENDING or (
                current.status == TaskStatus.IN_PROGRESS and current.deadline_at is None
            ):
                jobs.defer_run_step(run)  # to send, or send again (its job may have died on hold)
        elif current is not None and _waits_for_a_worker(current):
            _auto_assign(current, ticket)
        return ticket


def _waits_for_a_worker(task: TaskInstance) -> bool:
    return bool(
        task.status == TaskStatus.PENDING
        and task.assigned_to_id is None
        and task.assignment == Assignment.AUTO
    )


@_writes()
def ticket_cancel(*, actor: User, ticket: TicketInstance, note: str = "") -> TicketInstance:
    """Stop a ticket for good: its unfinished tasks are cancelled."""
    with acting_as(actor):
        require_system_role(actor, SystemRole.TICKET_ADMIN)
        run = _locked_run(ticket.workflow_instance_id or 0)
        _set_run_status(
            run,
            WorkflowStatus.CANCELLED,
            (WorkflowStatus.IN_PROGRESS, WorkflowStatus.ON_HOLD, WorkflowStatus.ERROR),
        )
        run.tasks.filter(status__in=ACTIVE_TASK_STATUSES).update(
            status=TaskStatus.CANCELLED, completed_at=timezone.now()
        )
        _event(ticket, EventKind.CANCELLED, actor, message=note)
        jobs.defer_notify_finished(run.ticket)
        jobs.defer_assign_waiting()
        return ticket


@_writes()
def tasks_reassign(*, actor: User, tasks: list[TaskInstance], worker: User) -> int:
    """A ticket admin hands unfinished FORM tasks to a task worker of the same company."""
    require_system_role(actor, SystemRole.TICKET_ADMIN)
    with acting_as(actor):
        worker = User.objects.get(pk=worker.pk, system_role_assignments__role=SystemRole.TASK_WORKER)
        chosen = list(TaskInstance.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk"))
        # Every run first, in one order: the first move takes the company's assignment lock, and
        # holding it while waiting for a run's lock could deadlock with a worker completing a task.
        runs = WorkflowInstance.objects.filter(pk__in={task.workflow_instance_id for task in chosen})
        list(runs.select_for_update().order_by("pk").values_list("pk", flat=True))
        count = 0
        for task in chosen:
            run, task = _task_for_update(task.pk)
            if task.task_type != "FORM" or task.status not in (
                TaskStatus.PENDING,
                TaskStatus.OPEN,
                TaskStatus.IN_PROGRESS,
            ):
                continue
            status = TaskStatus.OPEN if task.status == TaskStatus.PENDING else TaskStatus(task.status)
            _set_status(task, status, (task.status,), assigned_to=worker, assigned_at=timezone.now())
            _event(
                run.ticket,
                EventKind.ASSIGNED,
                actor,
                task=task,
                message=str(worker),
                details={"to": worker.email},
            )
            jobs.defer_notify_assigned(task)
            count += 1
        return count


# --- actions ------------------------------------------------------------------------------------


def callback_token(task: TaskInstance) -> str:
    """The task's callback credential: unguessable without SECRET_KEY, the same for every try.

    Only its hash is stored; being derived, a re-sent request (after a crash) carries the
    same token as the first, so a callback for either is accepted — once.
    """
    return hmac.new(
        settings.SECRET_KEY.encode(), f"callback:{task.idempotency_key}".encode(), "sha256"
    ).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class _Call:
    """An action request (or a code run) prepared in one transaction, made outside any."""

    task: TaskInstance
    spec: Mapping[str, Any]
    body: Any  # the request body; a code task's input
    run_id: int
    context: dict[str, Any] | None = None  # a code task's context


# Inside run_step the job itself goes on to the next automated task: entering one defers no job.
_automating: ContextVar[bool] = ContextVar("ticketflower_automating", default=False)


def run_step(run_id: int) -> None:
    """Work a run's automated tasks (actions, code) until it waits for a person, a callback, a
    retry or its end.

    Idempotent: it looks at where the run stands, so a job retried after its worker died
    picks up exactly where that one was (a request in flight is sent again with the same
    idempotency key; completion is compare-and-set, so it happens once). Each step is one
    transaction that records the answer, moves the run and prepares the next request.
    """
    automating = _automating.set(True)
    try:
        with _writes():
            call = _action_prepare(_locked_run(run_id))
        for _ in range(50):
            if call is None:
                return
            call = _action_send(call)
        with _writes():
            jobs.defer_run_step(_locked_run(run_id))  # a long automated stretch: let other runs go first
    finally:
        _automating.reset(automating)


def _action_prepare(run: WorkflowInstance, task: TaskInstance | None = None) -> _Call | None:
    """The request (or code run) for the run's current task, if it is one to make now. Run locked."""
    if run.status != WorkflowStatus.IN_PROGRESS:
        return None
    if task is None:
        task = run.tasks.order_by("-pk").first()
    if task is None or task.task_type == "FORM":
        return None
    waiting = task.task_type == "ASYNC_ACTION" and task.deadline_at is not None
    if task.status not in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS) or waiting:
        return None
    if (
        task.task_type == "CODE"
        and task.status == TaskStatus.IN_PROGRESS
        and task.attempts >= CODE_MAX_STARTS
    ):
        # Started that often and never finished: each time its job stopped (a crash, the machine
        # out of memory). Running it again would do the same.
        reason = (
            f"The code was started {task.attempts} times and never finished: the job running it "
            "stopped each time."
        )
        _task_error(run, task, reason, (TaskStatus.IN_PROGRESS,))
        return None
    spec = engine.task_spec(_bundle(run), task.task_key)
    context = None
    try:
        if task.task_type == "CODE":
            body = engine.task_input(spec, run.data)
            workflow = {"title": _bundle(run)["workflow"]["title"], "release": run.release.number}
            context = engine.code_context(spec, _ticket_facts(run), workflow)
        else:
            body = engine.action_body(spec, run.data, _ticket_facts(run))
    except engine.EngineError as exc:
        _task_error(run, task, exc.reason, (TaskStatus.PENDING, TaskStatus.IN_PROGRESS))
        return None
    if task.task_type == "ASYNC_ACTION":
        body = dict(body) if isinstance(body, dict) else {"data": body}
        body["callback_url"] = callback_url(callback_token(task))
        task.callback_token_hash = token_hash(callback_token(task))
    _set_status(
        task,
        TaskStatus.IN_PROGRESS,
        (TaskStatus.PENDING, TaskStatus.IN_PROGRESS),
        attempts=task.attempts + 1,  # the run's lock serialises every change of its tasks
        started_at=task.started_at or timezone.now(),
        callback_token_hash=task.callback_token_hash,
    )
    return _Call(task=task, spec=spec, body=body, run_id=run.pk, context=context)


def callback_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/api/v1/callbacks/{token}/"


def _action_send(call: _Call) -> _Call | None:
    """Send one prepared request, record what came of it and prepare the next one, if any."""
    if call.spec["type"] == "CODE":
        return _code_run(call)
    from ticketflower.runtime import outgoing  # httpx loads where requests are made, not in every process

    task, company = call.task, current_company()
    try:
        response = outgoing.action_call(
            url=call.spec["action_url"],
            body=call.body,
            secret=company.webhook_secret,
            message_id=str(task.idempotency_key),  # the same message, however often it is tried
            idempotency_key=str(task.idempotency_key),
            timeout_seconds=_request_seconds(call.spec),
        )
    except outgoing.ActionFailure as failure:
        _action_failed(call, failure, company.action_max_attempts)
        return None
    with _writes():
        run = _locked_run(call.run_id)
        attempt = {"attempt": task.attempts, "status": response.status_code, "ms": response.duration_ms}
        _event(run.ticket, EventKind.ATTEMPT, ENGINE, task=task, details=attempt)
        if task.task_type == "ASYNC_ACTION":
            _await_callback(run, task, call.spec)
            return None
        try:
            output = engine.action_output(call.spec, response.body, run.data, _ticket_facts(run))
        except engine.OutputInvalid as exc:
            reason = f"The answer does not fit the task's output: {exc}"
            _task_error(run, task, reason, (TaskStatus.IN_PROGRESS,))
            return None
        try:
            following = _complete(run, task, output, ENGINE, (TaskStatus.IN_PROGRESS,))
        except WrongState:
            return None  # completed meanwhile by another try: nothing more to do
        return _action_prepare(run, following) if following is not None else None


# What a run's event keeps of what the code printed (the designer's "try" shows all of it).
CODE_LOG_KEPT = 4000
# A code task whose job stopped this many times while it ran stops in ERROR instead.
CODE_MAX_STARTS = 3


def _code_run(call: _Call) -> _Call | None:
    """Run a code task in its sandbox, outside any transaction; record the outcome and go on.

    Code has no side effects outside its sandbox, so a run repeated after a crash is harmless.
    Every failure (its exception, a limit, an answer that does not fit, no sandbox on this
    server) stops the task in ERROR with the reason; a ticket admin may retry or skip it.
    """
    from ticketflower.codetasks.sandbox import code_run  # the sandbox loads where code runs

    task = call.task
    outcome = code_run(
        source=str(call.spec.get("code") or ""),
        input=call.body,
        context=call.context or {},
        seconds=call.spec.get("timeout_seconds"),
    )
    try:
        return _code_ran(call, outcome)
    except DataError:  # the sandbox checks what it passes on; this is the backstop
        logger.exception("The outcome of code task %s could not be stored.", task.pk)
        with _writes():
            run = _locked_run(call.run_id)
            _task_error(run, task, "The code's answer could not be stored.", (TaskStatus.IN_PROGRESS,))
        return None


def _code_ran(call: _Call, outcome: "Outcome") -> _Call | None:
    """Record a code run's outcome: the task completes with its output, or stops in ERROR."""
    task = call.task
    with _writes():
        run = _locked_run(call.run_id)
        details: dict[str, Any] = {"attempt": task.attempts, "ms": outcome.ms, "outcome": outcome.kind}
        if outcome.log:
            details["log"] = outcome.log[-CODE_LOG_KEPT:]
        _event(run.ticket, EventKind.CODE_RUN, ENGINE, task=task, message=outcome.message, details=details)
        if not outcome.ok:
            _task_error(run, task, outcome.reason(), (TaskStatus.IN_PROGRESS,))
            return None
        errors = engine.output_errors(call.spec, outcome.output)
        if errors:
            reason = f"The code's result does not fit the task's output: {engine.OutputInvalid(errors)}"
            _task_error(run, task, reason, (TaskStatus.IN_PROGRESS,))
            return None
        try:
            following = _complete(run, task, dict(outcome.output or {}), ENGINE, (TaskStatus.IN_PROGRESS,))
        except WrongState:
            return None  # completed meanwhile by another try: nothing more to do
        return _action_prepare(run, following) if following is not None else None


# An ASYNC action's endpoint only confirms receipt; its timeout_seconds is the callback's deadline.
ASYNC_RECEIPT_SECONDS = 30


def _request_seconds(spec: Mapping[str, Any]) -> float:
    seconds = float(spec.get("timeout_seconds") or 30)
    return min(seconds, ASYNC_RECEIPT_SECONDS) if spec["type"] == "ASYNC_ACTION" else seconds


def _await_callback(run: WorkflowInstance, task: TaskInstance, spec: Mapping[str, Any]) -> None:
    deadline = timezone.now() + timedelta(seconds=int(spec.get("timeout_seconds") or 3600))
    if TaskInstance.objects.filter(pk=task.pk, status=TaskStatus.IN_PROGRESS).update(deadline_at=deadline):
        jobs.defer_callback_deadline(task, deadline)


def _action_failed(call: _Call, failure: Any, max_attempts: int) -> None:
    from ticketflower.runtime import outgoing

    task = call.task
    with _writes():
        run = _locked_run(call.run_id)
        details = {
            "attempt": task.attempts,
            "status": failure.status_code,
            "ms": failure.duration_ms,
            "error": failure.reason,
        }
        retry = failure.retryable and task.attempts < max_attempts
        if retry:
            delay = outgoing.retry_delay(task.attempts, retry_after=failure.retry_after)
            details["retry_in"] = round(delay, 1)
        _event(run.ticket, EventKind.ATTEMPT, ENGINE, task=task, message=failure.reason, details=details)
        if not retry:
            why = (
                failure.reason
                if not failure.retryable
                else f"{failure.reason} (gave up after {task.attempts} tries)"
            )
            _task_error(run, task, why, (TaskStatus.IN_PROGRESS,))
            return
        try:
            _set_status(task, TaskStatus.PENDING, (TaskStatus.IN_PROGRESS,))
        except WrongState:
            return
        jobs.defer_run_step(run, delay=delay)


def _task_error(run: WorkflowInstance, task: TaskInstance, reason: str, allowed: tuple[str, ...]) -> None:
    try:
        _set_status(task, TaskStatus.ERROR, allowed, error=reason)
    except WrongState:
        return
    if run.status == WorkflowStatus.IN_PROGRESS:
        _run_error(run, reason, task)
    else:
        _event(run.ticket, EventKind.ERROR, ENGINE, task=task, message=reason)


def callback_deadline_pass(task_id: int) -> None:
    """An ASYNC task whose callback did not come in time stops in ERROR (if it still waits)."""
    with _writes():
        task = TaskInstance.objects.filter(pk=task_id).first()
        if task is None or task.deadline_at is None or task.deadline_at > timezone.now():
            return
        run = _locked_run(task.workflow_instance_id)
        _callback_missed(run, task)


NO_CALLBACK = "No callback within"


def _callback_missed(run: WorkflowInstance, task: TaskInstance) -> None:
    """An ASYNC task still waiting past its deadline stops in ERROR. Call with the run locked."""
    seconds = int(engine.task_spec(_bundle(run), task.task_key).get("timeout_seconds") or 0)
    _task_error(run, task, f"{NO_CALLBACK} {_duration(seconds)}.", (TaskStatus.IN_PROGRESS,))


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} s"


@dataclass(frozen=True)
class CallbackResult:
    status: int  # the HTTP status to answer
    detail: str
    errors: dict[str, list[str]]


def callback_receive(*, token: str, body: Any) -> CallbackResult:
    """An ASYNC task's endpoint reports back. Runs in the company context of the token's task.

    200 the run went on; 400 the body does not give a valid output (the task keeps waiting);
    404 unknown token; 409 already completed (or otherwise not waiting); 410 too late.
    """
    found = (
        TaskInstance.unscoped.filter(callback_token_hash=token_hash(token)).select_related("company").first()
    )
    if found is None:
        return CallbackResult(404, "No task waits for this callback.", {})
    from ticketflower.tenancy.context import company_context

    with company_context(found.company), _writes():
        run = _locked_run(found.workflow_instance_id)
        task = TaskInstance.objects.get(pk=found.pk)
        if task.status == TaskStatus.COMPLETED:
            return CallbackResult(409, "This task is already completed; the callback changed nothing.", {})
        missed = task.status == TaskStatus.ERROR and task.error.startswith(NO_CALLBACK)
        late = task.status == TaskStatus.IN_PROGRESS and task.deadline_at is not None
        if late and task.deadline_at is not None and task.deadline_at <= timezone.now():
            _callback_missed(run, task)
            missed = True
        if missed:
            return CallbackResult(410, "The deadline for this callback has passed; it changed nothing.", {})
        # PENDING: between two tries of the request, the first of which may have arrived.
        if task.status not in (TaskStatus.IN_PROGRESS, TaskStatus.PENDING) or run.status not in (
            WorkflowStatus.IN_PROGRESS,
            WorkflowStatus.ON_HOLD,
        ):
            return CallbackResult(
                409, _wrong_task_state(task, task.status) + " The callback changed nothing.", {}
            )
        spec = engine.task_spec(_bundle(run), task.task_key)
        try:
            output = engine.action_output(spec, body, run.data, _ticket_facts(run))
        except engine.OutputInvalid as exc:
            refused = {"refused": exc.errors}
            _event(run.ticket, EventKind.CALLBACK, ENGINE, task=task, message=str(exc), details=refused)
            return CallbackResult(400, "The callback's body does not give the task's output.", exc.errors)
        _complete(
            run, task, output, ENGINE, (TaskStatus.IN_PROGRESS, TaskStatus.PENDING), kind=EventKind.CALLBACK
        )
        return CallbackResult(200, "Received; the ticket goes on.", {})


# --- the dashboards' counts ----------------------------------------------------------------------

# Every company's StatusCount rows folded into one per subject, ticket type and status. Rows
# appended while it runs are not in its snapshot: neither deleted nor counted twice.
_FOLD_LOCK = 7302  # beside the assignment lock, 7301
_FOLD_STATUS_COUNTS = """
WITH gone AS (DELETE FROM runtime_statuscount RETURNING company_id, subject, ticket_type_id, status, n)
INSERT INTO runtime_statuscount (company_id, subject, ticket_type_id, status, n)
SELECT company_id, subject, ticket_type_id, status, sum(n) FROM gone
 GROUP BY company_id, subject, ticket_type_id, status HAVING sum(n) <> 0
"""


def status_counts_fold() -> None:
    """Fold the counters' appended +1/-1 rows (models.StatusCount): for every company at once.

    One fold at a time (two would delete the same rows in different orders and deadlock);
    appending rows never waits for it.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FOLD_LOCK])
        cursor.execute(_FOLD_STATUS_COUNTS)
