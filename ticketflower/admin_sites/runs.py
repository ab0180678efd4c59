"""What the work pages show of a run, as plain data for their templates.

A task's instructions, its input and a ticket's data are read from the release the run
started from (never the editable draft), with each value under its field's label. The
forms generated from workflow fields get unfold's look here.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from unfold.widgets import (
    INPUT_CLASSES,
    SELECT_CLASSES,
    TEXTAREA_CLASSES,
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminRadioSelectWidget,
)

from ticketflower.accounts.models import User
from ticketflower.layouts.embed import LayoutFrame, form_errors, release_frame, task_layout_path
from ticketflower.runtime import engine
from ticketflower.runtime.forms import DataForm, form_values, task_form
from ticketflower.runtime.models import EventKind, TaskInstance, TicketEvent, WorkflowInstance

# Schemes a designer's reference may link to; anything else (javascript:, data:) is shown as text.
LINK_SCHEMES = {"http", "https", "mailto"}


def workflow_fields(run: WorkflowInstance) -> list[dict[str, Any]]:
    return list(run.release.bundle["workflow"].get("fields") or [])


def spec_of(task: TaskInstance) -> engine.TaskSpec:
    """The task as its run's release defines it (an empty spec if the release lacks it)."""
    try:
        return engine.task_spec(task.workflow_instance.release.bundle, task.task_key)
    except engine.EngineError:
        return {"key": task.task_key, "title": task.title, "type": task.task_type}


def value_text(value: Any) -> str:
    """A JSON value the way a person reads it."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {value_text(item)}" for key, item in value.items())
    return str(value)


def labelled(data: Mapping[str, Any], fields: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, value) in the workflow's field order; keys the workflow does not define come last."""
    known = [f for f in fields if f.get("name") in data]
    names = {f["name"] for f in known}
    rows = [(str(f.get("label") or f["name"]), value_text(data[f["name"]])) for f in known]
    return rows + [(str(key), value_text(value)) for key, value in data.items() if key not in names]


def links(ext_ref: Any) -> list[dict[str, str]]:
    """A spec's external references; `href` is empty unless the URI is a web or mail link."""
    found = []
    for ref in ext_ref if isinstance(ext_ref, list) else []:
        if not isinstance(ref, dict):
            continue
        uri = str(ref.get("uri") or "")
        scheme = urlsplit(uri).scheme.lower() if uri else ""
        found.append(
            {
                "label": str(ref.get("label") or uri),
                "description": str(ref.get("description") or ""),
                "uri": uri,
                "href": uri if scheme in LINK_SCHEMES else "",
            }
        )
    return found


def task_page(task: TaskInstance, viewer: User) -> dict[str, Any]:
    """The instructions, input and ticket of `task`, for the worker's pages."""
    run = task.workflow_instance
    spec = spec_of(task)
    ticket = run.ticket
    return {
        "task": task,
        "spec_title": spec.get("title") or task.title,
        "description": spec.get("description") or "",
        "links": links(spec.get("ext_ref")),
        "input_rows": labelled(task.input_data, workflow_fields(run)),
        "ticket": ticket,
        "ticket_rows": [
            (_("Ticket"), str(ticket)),
            (_("Workflow"), run.release.workflow.title),
            (_("Submitted by"), str(ticket.created_by or "—")),
            (_("Submitted"), formats.date_format(timezone.localtime(ticket.created_at), "DATETIME_FORMAT")),
            (_("Status"), run.get_status_display()),
        ],
        "run": run,
        "input_layout": release_frame(
            run.release,
            task_layout_path(run.release.frozen_bundle(), task.task_key, "display_layout"),
            viewer=viewer,
            key="task-display",
            values=task.input_data,
            context=task_context(task),
            fallback="task-input-rows",
        ),
    }


def task_context(task: TaskInstance) -> dict[str, Any]:
    """What a task's layouts may read about it (read-only in the frame)."""
    ticket = task.workflow_instance.ticket
    return {
        "task": {"key": task.task_key, "title": task.title, "status": task.status},
        "ticket": {"id": ticket.pk, "title": str(ticket), "submitted_at": ticket.created_at.isoformat()},
    }


def task_layouts(task: TaskInstance, viewer: User) -> dict[str, LayoutFrame | None]:
    """A task's input (its display layout) and answer (its edit layout, read-only), for admins."""
    run = task.workflow_instance
    bundle = run.release.frozen_bundle()
    context = task_context(task)

    def shown(name: str, key: str, values: dict[str, Any]) -> LayoutFrame | None:
        path = task_layout_path(bundle, task.task_key, name)
        return release_frame(
            run.release, path, viewer=viewer, key=key, values=values, context=context, mode="display"
        )

    return {
        "input_layout": shown("display_layout", "task-display", task.input_data),
        "output_layout": shown("edit_layout", "task-output", task.output_data),
    }


def output_layout(task: TaskInstance, form: DataForm, viewer: User) -> LayoutFrame | None:
    """The task's edit layout over its output form (the form stays as the fallback)."""
    run = task.workflow_instance
    return release_frame(
        run.release,
        task_layout_path(run.release.frozen_bundle(), task.task_key, "edit_layout"),
        viewer=viewer,
        key="task-edit",
        values=form_values(form),
        errors=form_errors(form.errors) if form.is_bound else {},
        context=task_context(task),
        values_input="layout-values",
        fallback="task-form-fields",
        default_submit="complete",  # a layout's own submit button completes the task
    )


def output_form(task: TaskInstance, data: Any = None, *, draft: bool = False, files: Any = None) -> DataForm:
    """The form of a task's output, in unfold's look, filled with what was saved.

    A draft may leave required fields empty: completing checks them (and the schema) all.
    """
    form = task_form(
        spec_of(task),
        workflow_fields(task.workflow_instance),
        data=data,
        files=files,
        initial_data=task.output_data,
    )
    if draft:
        for field in form.fields.values():
            field.required = False
    return unfold_styled(form)


def unfold_styled[F: forms.Form](form: F) -> F:
    """Give a generated form unfold's widgets and input styles."""
    for field in form.fields.values():
        widget = field.widget
        choices = getattr(field, "choices", ())
        if isinstance(widget, forms.CheckboxSelectMultiple):
            field.widget = UnfoldAdminCheckboxSelectMultipleWidget(attrs=widget.attrs, choices=choices)
        elif isinstance(widget, forms.RadioSelect):
            field.widget = UnfoldAdminRadioSelectWidget(attrs=widget.attrs, choices=choices)
        elif isinstance(widget, forms.Select):
            widget.attrs["class"] = " ".join(SELECT_CLASSES)
        elif isinstance(widget, forms.Textarea):
            widget.attrs["class"] = " ".join(TEXTAREA_CLASSES)
        else:
            widget.attrs["class"] = " ".join(INPUT_CLASSES)
    return form


def attempt_text(details: Mapping[str, Any]) -> str:
    """An action attempt's details in one line: "Try 2: HTTP 503 in 120 ms; retry in 4.0 s"."""
    parts = [_("Try %(n)s") % {"n": details.get("attempt", "?")}]
    result = []
    if details.get("status"):
        result.append(f"HTTP {details['status']}")
    if details.get("ms") is not None:
        result.append(_("in %(ms)s ms") % {"ms": details["ms"]})
    if result:
        parts[0] += ": " + " ".join(result)
    if details.get("error"):
        parts.append(str(details["error"]))
    if details.get("retry_in") is not None:
        parts.append(_("retry in %(s)s s") % {"s": details["retry_in"]})
    return "; ".join(parts)


# What a history row shows of the code's printed output (the event keeps up to 4,000 characters).
PRINTED_SHOWN = 1000


def code_run_text(details: Mapping[str, Any]) -> str:
    """A code run in a line, then what it printed: "Run 1: ok in 34 ms"."""
    line = _("Run %(n)s: %(outcome)s in %(ms)s ms") % {
        "n": details.get("attempt", "?"),
        "outcome": details.get("outcome", "?"),
        "ms": details.get("ms", "?"),
    }
    printed = str(details.get("log") or "")
    if printed:
        shown = printed if len(printed) <= PRINTED_SHOWN else "…" + printed[-PRINTED_SHOWN:]
        line += "\n" + _("Printed:") + "\n" + shown.rstrip("\n")
    return line


def history_rows(events: list[TicketEvent]) -> list[dict[str, Any]]:
    """A ticket's history for its page: when, what, who, and what was said."""
    rows = []
    for event in events:
        what = str(event.get_kind_display())
        if event.task_id is not None and event.task is not None:
            what = f"{what}: {event.task.title}"
        attempt = event.kind == EventKind.ATTEMPT
        message = event.message
        if attempt and message == event.details.get("error"):
            message = ""  # the attempt's line says it
        if event.task is not None and message == event.task.title:
            message = ""  # "what" names the task already
        line = attempt_text(event.details) if attempt else ""
        if event.kind == EventKind.CODE_RUN:
            line = code_run_text(event.details)
        rows.append(
            {
                "when": event.created_at,
                "what": what,
                "by": event.by or "—",
                "message": message,
                "attempt": line,
            }
        )
    return rows
