"""What a page needs to show a layout in the sandbox: the frame's URL and the props it hands over.

Pages include templates/layouts/frame.html with a `LayoutFrame`; the page's script
(host.js) makes the sandboxed frame and talks to it. Without LAYOUT_SANDBOX_ORIGIN, or for
a layout that does not compile, there is no frame and the page keeps its server-rendered
form or display (the fallback that is always on the page).
"""

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import reverse

from ticketflower.accounts.models import User
from ticketflower.definitions.fields import sample_value
from ticketflower.definitions.models import WorkflowRelease
from ticketflower.files.selectors import file_ids, visible_files
from ticketflower.layouts.compiler import CompileProblem, CompilerMissing, LayoutInvalid
from ticketflower.layouts.services import layout_store
from ticketflower.layouts.slots import Slot, slot_at

_ids = itertools.count(1)


@dataclass(frozen=True)
class LayoutFrame:
    key: str  # names it on the page and in tests: data-testid="layout-<key>"
    module: str  # the compiled module's SHA-256
    title: str
    props: dict[str, Any]
    values_input: str = ""  # id of the hidden input that receives the values (edit mode)
    fallback: str = ""  # id of what shows when the layout cannot
    upload_url: str = ""
    upload_max: int = 0
    default_submit: str = ""  # value of the page's submit button a layout's own submit stands for
    props_id: str = field(default_factory=lambda: f"layout-props-{next(_ids)}")

    @property
    def frame_url(self) -> str:
        return f"{settings.LAYOUT_SANDBOX_ORIGIN}/frame/{self.module}/"

    @property
    def mode(self) -> str:
        return str(self.props["mode"])


def task_layout_path(bundle: Mapping[str, Any], task_key: str, name: str) -> str:
    tasks = bundle.get("workflow", {}).get("tasks") or []
    index = next((i for i, task in enumerate(tasks) if task.get("key") == task_key), None)
    return f"workflow.tasks[{index}].{name}" if index is not None else ""


def ticket_type_layout_path(position: int, name: str) -> str:
    return f"ticket_types[{position}].{name}"


def release_frame(
    release: WorkflowRelease,
    path: str,
    *,
    viewer: User,
    key: str,
    values: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    context: dict[str, Any] | None = None,
    values_input: str = "",
    fallback: str = "",
    mode: str = "",
    default_submit: str = "",
    only: Collection[str] | None = None,
) -> LayoutFrame | None:
    """The frame for the layout at `path` of a release, or None (the page shows its fallback).

    `mode="display"` shows an edit layout read-only (a task's answer on the admin's page);
    `only` narrows the fields it is told about to what the viewer may know of.
    """
    if not settings.LAYOUT_SANDBOX_ORIGIN or not path:
        return None
    slot = slot_at(release.frozen_bundle(), path)
    if slot is None:
        return None
    module = release.layouts.get(path) or _compile_late(slot)
    if module is None:
        return None
    fields = [spec for spec in slot.fields if only is None or spec["name"] in only]
    names = {spec["name"] for spec in fields}
    shown = {name: value for name, value in values.items() if name in names}
    files = file_names(viewer, file_ids(fields, shown))
    return LayoutFrame(
        key=key,
        module=module,
        title=slot.title,
        props={
            "mode": mode or slot.mode,
            "fields": fields,
            # Only what the layout covers (the workflow display covers every field).
            "values": shown,
            "errors": errors or {},
            "context": {**(context or {}), "files": files},
        },
        values_input=values_input,
        fallback=fallback,
        # Uploads go through the page (the frame connects nowhere), to the app's endpoint.
        upload_url=reverse("files:upload") if (mode or slot.mode) == "edit" else "",
        upload_max=settings.FILE_UPLOAD_MAX_BYTES,
        default_submit=default_submit,
    )


def file_names(viewer: User, ids: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """The files a layout shows, by id, as far as `viewer` may see them (a value may be forged)."""
    if not ids:
        return {}
    found = visible_files(viewer, ids.values()).values_list("pk", "filename", "size")
    return {str(pk): {"name": name, "size": size} for pk, name, size in found}


def _compile_late(slot: Slot) -> str | None:
    """A release from before layouts were compiled on publishing: compile its layout now."""
    try:
        return layout_store(slot.effective_source()).sha256
    except (LayoutInvalid, CompilerMissing):
        return None


def form_errors(errors: Any) -> dict[str, list[str]]:
    """A Django form's errors as the layout contract's `errors` ("" = the whole form)."""
    return {
        ("" if name == "__all__" else name): [str(m) for m in messages] for name, messages in errors.items()
    }


@dataclass(frozen=True)
class Preview:
    """A layout being written, shown with sample values; or why it cannot be."""

    frame: LayoutFrame | None
    problems: list[CompileProblem]


def preview_frame(bundle: Mapping[str, Any], path: str, source: str, *, mode: str = "") -> Preview:
    """`source` compiled and shown at `path` of a draft bundle, with values made up from its fields.

    `mode` shows an edit layout read-only too ("display"), as its ticket or task page will.
    """
    slot = slot_at(bundle, path)
    if slot is None:
        return Preview(
            None, [CompileProblem("This layout's place is not in the saved workflow yet: save it once.")]
        )
    written = Slot(slot.path, slot.kind, slot.title, slot.fields, source)
    try:
        module = layout_store(written.effective_source())
    except LayoutInvalid as exc:
        return Preview(None, exc.problems)
    except CompilerMissing as exc:
        return Preview(None, [CompileProblem(str(exc))])
    props = sample_props(slot, mode)
    return Preview(LayoutFrame(key="preview", module=module.sha256, title=slot.title, props=props), [])


def sample_props(slot: Slot, mode: str = "") -> dict[str, Any]:
    """The props the layout at `slot` gets in the preview and the render check: made-up values.

    `mode` "edit" or "display" (an edit layout read-only); anything else is the slot's own.
    """
    context = {
        "ticket": {"id": 1, "title": slot.title, "status": "IN_PROGRESS", "status_label": "In progress"},
        "task": {"key": "sample", "title": slot.title, "status": "IN_PROGRESS"},
        "tasks": [
            {
                "title": "First step",
                "status_label": "Completed",
                "who": "Sam Sample",
                "when": "2026-01-31T09:00:00Z",
            },
            {"title": "Second step", "status_label": "In progress", "who": "Alex Example", "when": ""},
        ],
    }
    return {
        "mode": mode if mode in ("edit", "display") else slot.mode,
        "fields": list(slot.fields),
        "values": {spec["name"]: sample_value(spec) for spec in slot.fields},
        "errors": {},
        "context": context,
    }
