"""How a ticket reads to the people who follow it: answers, statuses, tasks and history in words.

Plain functions over rows already loaded; no queries here. What a submitter may see of the
history is decided in one place (`SUBMITTER_HIDDEN_KINDS`, `history_entry`), documented in
docs/portal.md: they see what happened to their ticket, by whom and when — never action
attempts, callbacks' payloads, saved drafts, event details, or the technical reason a run
stopped (a ticket admin sees those).
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from ticketflower.definitions.fields import FieldType
from ticketflower.runtime.models import (
    Assignment,
    EventKind,
    TaskInstance,
    TaskStatus,
    TicketEvent,
    TicketInstance,
    WorkflowStatus,
)

# unfold's label variants, by run and task status.
Variant = Literal["info", "success", "warning", "danger", "default"]
RUN_VARIANTS: dict[str, Variant] = {
    WorkflowStatus.NOT_STARTED: "default",
    WorkflowStatus.IN_PROGRESS: "info",
    WorkflowStatus.ON_HOLD: "warning",
    WorkflowStatus.ERROR: "danger",
    WorkflowStatus.COMPLETED: "success",
    WorkflowStatus.CANCELLED: "default",
}
TASK_VARIANTS: dict[str, Variant] = {
    TaskStatus.PENDING: "default",
    TaskStatus.OPEN: "info",
    TaskStatus.IN_PROGRESS: "info",
    TaskStatus.COMPLETED: "success",
    TaskStatus.CANCELLED: "default",
    TaskStatus.ERROR: "danger",
}

# What a run's status means for the person who asked, in a sentence.
RUN_EXPLAINED: dict[str, StrOrPromise] = {
    WorkflowStatus.NOT_STARTED: _("Your ticket has not started yet."),
    WorkflowStatus.IN_PROGRESS: _("Your ticket is being worked on."),
    WorkflowStatus.ON_HOLD: _("The ticket team has put your ticket on hold; it goes on when they resume it."),
    WorkflowStatus.ERROR: _(
        "Something went wrong while working on your ticket. The ticket team has been told and will "
        "pick it up; there is nothing you need to do."
    ),
    WorkflowStatus.COMPLETED: _("Your ticket is done."),
    WorkflowStatus.CANCELLED: _("Your ticket was cancelled."),
}

# History a submitter does not see: automation internals and a worker's unsaved thinking.
SUBMITTER_HIDDEN_KINDS = frozenset({EventKind.ATTEMPT, EventKind.CODE_RUN, EventKind.SAVED})
SUBMITTER_ERROR_MESSAGE = _("Something went wrong; the ticket team has been told.")


@dataclass(frozen=True)
class Answer:
    """One asked field of a ticket, ready to show."""

    label: str
    text: str  # "" when not answered
    kind: Literal["text", "long_text", "link", "email", "list"] = "text"
    items: tuple[str, ...] = ()


def answers(
    ticket_type_spec: Mapping[str, Any],
    workflow_fields: list[dict[str, Any]],
    data: Mapping[str, Any],
    *,
    file_names: Mapping[int, str] | None = None,
) -> list[Answer]:
    """The fields the ticket type asked for, in its order, with what was answered.

    Presets (values the type fills in without asking) are left out: the submitter never saw them.
    """
    by_name = {field["name"]: field for field in workflow_fields}
    shown: list[Answer] = []
    for entry in ticket_type_spec.get("fields") or []:
        spec = by_name.get(entry.get("field"))
        if spec is None or "preset" in entry:
            continue
        shown.append(answer(spec, data.get(spec["name"]), file_names=file_names or {}))
    return shown


def answer(spec: Mapping[str, Any], value: Any, *, file_names: Mapping[int, str]) -> Answer:
    label = str(spec.get("label") or spec["name"])
    if value is None or value == "" or value == []:
        return Answer(label, "")
    kind = FieldType(spec["type"])
    match kind:
        case FieldType.BOOLEAN:
            return Answer(label, str(_("Yes") if value is True else _("No") if value is False else value))
        case FieldType.DATE:
            return Answer(label, _date_text(value))
        case FieldType.DATETIME:
            return Answer(label, _datetime_text(value))
        case FieldType.NUMBER | FieldType.INTEGER:
            return Answer(label, str(formats.number_format(value)) if _is_number(value) else str(value))
        case FieldType.MULTI_CHOICE if isinstance(value, list):
            items = tuple(str(item) for item in value)
            return Answer(label, ", ".join(items), "list", items)
        case FieldType.LONG_TEXT:
            return Answer(label, str(value), "long_text")
        case FieldType.URL if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
            return Answer(label, value, "link")
        case FieldType.EMAIL:
            return Answer(label, str(value), "email")
        case FieldType.FILE if isinstance(value, int):
            return Answer(label, file_names.get(value) or str(_("File #%(id)s") % {"id": value}))
    return Answer(label, str(value))


def file_ids(
    ticket_type_spec: Mapping[str, Any], workflow_fields: list[dict[str, Any]], data: Any
) -> set[int]:
    """The FileUpload ids the asked file fields hold."""
    files = {f["name"] for f in workflow_fields if f.get("type") == FieldType.FILE}
    asked = {entry.get("field") for entry in ticket_type_spec.get("fields") or []}
    return {v for name in files & asked if isinstance(v := data.get(name), int) and not isinstance(v, bool)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date_text(value: Any) -> str:
    parsed = parse_date(value) if isinstance(value, str) else None
    return str(formats.date_format(parsed, "DATE_FORMAT")) if parsed else str(value)


def _datetime_text(value: Any) -> str:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        return str(value)
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    return str(formats.date_format(parsed, "DATETIME_FORMAT"))


# --- where the work stands ---------------------------------------------------------------------


@dataclass(frozen=True)
class TaskLine:
    title: str
    status: str
    variant: Variant
    who: str
    when_label: StrOrPromise
    when: datetime.datetime | None
    error: str = ""  # for ticket admins only


def layout_context(
    ticket: TicketInstance, *, status: str, status_label: str, current_step: str, tasks: list[TaskLine]
) -> dict[str, Any]:
    """What a ticket's display layouts may read about it (`context` in docs/layouts.md)."""
    return {
        "ticket": {
            "id": ticket.pk,
            "title": ticket.ticket_type.title,
            "status": status,
            "status_label": status_label,
            "current_step": current_step,
            "submitted_at": ticket.created_at.isoformat(),
        },
        "tasks": [
            {
                "title": t.title,
                "status_label": t.status,
                "who": t.who,
                "when": t.when.isoformat() if t.when else "",
            }
            for t in tasks
        ],
    }


def task_line(task: TaskInstance, *, internal: bool) -> TaskLine:
    when_label, when = _task_when(task)
    return TaskLine(
        title=task.title,
        status=str(task.get_status_display()),
        variant=TASK_VARIANTS.get(task.status, "default"),
        who=task_who(task),
        when_label=when_label,
        when=when,
        error=task.error if internal and task.status == TaskStatus.ERROR else "",
    )


def task_who(task: TaskInstance) -> str:
    if task.task_type != "FORM":
        return str(_("TicketFlower (automatic)"))
    if task.assigned_to_id is not None and task.assigned_to is not None:
        return str(task.assigned_to)
    if task.status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
        return "—"
    if task.assignment == Assignment.POOL:
        return str(_("Waiting for a worker to take it"))
    return str(_("Waiting for a worker"))


def _task_when(task: TaskInstance) -> tuple[StrOrPromise, datetime.datetime | None]:
    if task.completed_at and task.status == TaskStatus.COMPLETED:
        return _("Completed"), task.completed_at
    if task.completed_at and task.status == TaskStatus.CANCELLED:
        return _("Cancelled"), task.completed_at
    if task.started_at:
        return _("Started"), task.started_at
    if task.assigned_at:
        return _("Assigned"), task.assigned_at
    return _("Created"), task.created_at


# --- history -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime.datetime
    what: str
    by: str
    message: str


def history_entry(event: TicketEvent, *, internal: bool) -> HistoryEntry | None:
    """How one event reads; None when the reader may not see it.

    A submitter (`internal` False) sees no action attempts, code runs or saved drafts, a callback only as
    the completion it brought, an error without its technical reason, and never `details`.
    A ticket admin sees every event with its message and an attempt's outcome.
    """
    task_title = event.task.title if event.task_id and event.task is not None else ""
    what = str(event.get_kind_display())
    if internal:
        message = event.message or task_title
        if event.kind == EventKind.ATTEMPT:
            message = " · ".join(part for part in [message, _attempt_summary(event.details)] if part)
        return HistoryEntry(event.created_at, what, event.by, message)
    if event.kind in SUBMITTER_HIDDEN_KINDS:
        return None
    if event.kind == EventKind.CALLBACK:
        if not isinstance(event.details, dict) or "output" not in event.details:
            return None  # a refused callback changed nothing the submitter could see
        return HistoryEntry(event.created_at, str(EventKind.TASK_COMPLETED.label), event.by, task_title)
    if event.kind == EventKind.ERROR:
        return HistoryEntry(event.created_at, what, event.by, str(SUBMITTER_ERROR_MESSAGE))
    if event.kind == EventKind.RETRIED:
        return HistoryEntry(event.created_at, what, event.by, task_title)
    return HistoryEntry(event.created_at, what, event.by, event.message or task_title)


def _attempt_summary(details: Any) -> str:
    if not isinstance(details, dict):
        return ""
    parts = []
    if details.get("attempt") is not None:
        parts.append(str(_("try %(n)s") % {"n": details["attempt"]}))
    if details.get("status") is not None:
        parts.append(f"HTTP {details['status']}")
    if details.get("ms") is not None:
        parts.append(f"{details['ms']} ms")
    if details.get("retry_in") is not None:
        parts.append(str(_("next try in %(s)s s") % {"s": details["retry_in"]}))
    return ", ".join(parts)
