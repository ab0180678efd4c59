"""Layouts on the design site: a source field that refuses what does not compile, and a live preview.

Beside every layout field the page (layout_preview.js) shows the layout as it is typed: the
source goes to `preview_view`, which compiles it against the saved workflow's fields and
answers the frame to show (sample values, edit or display mode) or the compile problems with
their line and column.
"""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from unfold.widgets import UnfoldAdminTextareaWidget

from ticketflower.core.ratelimit import rate_limit_hit
from ticketflower.definitions.bundles import workflow_bundle
from ticketflower.definitions.models import TaskDefinition, TicketDefinition, WorkflowDefinition
from ticketflower.layouts.compiler import CompilerMissing, LayoutInvalid, compile_layout
from ticketflower.layouts.embed import preview_frame, task_layout_path, ticket_type_layout_path

LAYOUT_FIELDS = ("edit_layout", "display_layout")
MAX_PREVIEW_BYTES = 200_000
PREVIEWS_LIMIT = "layout_previews_per_user"


class LayoutSourceWidget(UnfoldAdminTextareaWidget):
    """A code textarea that layout_preview.js gives a live preview."""

    def __init__(self) -> None:
        super().__init__(attrs={"rows": 16, "spellcheck": "false", "class": "font-mono text-xs"})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        attrs = {**(attrs or {}), "data-layout-preview": reverse("design:layout_preview")}
        return super().get_context(name, value, attrs)

    class Media:
        js = ["layouts/host.js", "admin_sites/layout_preview.js"]


class LayoutSourceField(forms.CharField):
    """Empty (the generated default) or a layout that compiles: its problems as field errors."""

    def clean(self, value: Any) -> str:
        text = str(super().clean(value) or "")
        if not text.strip():
            return ""
        try:
            compile_layout(text)
        except LayoutInvalid as exc:
            raise ValidationError([str(problem) for problem in exc.problems]) from exc
        except CompilerMissing as exc:
            raise ValidationError(str(exc)) from exc
        return text


def layout_formfield(db_field: Any) -> LayoutSourceField:
    return LayoutSourceField(
        label=db_field.verbose_name.capitalize(),
        required=False,
        widget=LayoutSourceWidget(),
        help_text=_(
            "React component source (TSX), see docs/layouts.md. Empty: a layout generated from the fields."
        ),
    )


def aim_previews(form: type[forms.ModelForm], obj: Any) -> None:  # type: ignore[type-arg]
    """Point the layout fields' previews at `obj`; an object not saved yet has no preview."""
    model = _MODEL_NAMES.get(type(obj))
    for name in LAYOUT_FIELDS:
        field = form.base_fields.get(name)
        if field is not None and model and obj.pk:
            field.widget.attrs["data-layout-target"] = f"{model}:{obj.pk}:{name}"


_MODEL_NAMES = {WorkflowDefinition: "workflow", TaskDefinition: "task", TicketDefinition: "tickettype"}


@require_POST
def preview_view(request: HttpRequest) -> JsonResponse:
    """{"frame": {...}} to show, or {"problems": [...]}; 4xx for a request that makes no sense."""
    if len(request.body) > MAX_PREVIEW_BYTES:
        return JsonResponse({"detail": "The layout is too large to preview."}, status=413)
    limit = settings.RATE_LIMITS[PREVIEWS_LIMIT]
    if rate_limit_hit(scope=PREVIEWS_LIMIT, key=str(request.user.pk), **limit) is not None:
        return JsonResponse({"detail": "Too many previews: wait a minute."}, status=429)
    try:
        body = json.loads(request.body)
        model, pk, name = str(body["target"]).split(":")
        source, mode = str(body.get("source") or ""), str(body.get("mode") or "")
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": "Send {target, source, mode} as JSON."}, status=400)
    if name not in LAYOUT_FIELDS or not (pk.isascii() and pk.isdigit() and len(pk) <= 18):
        return JsonResponse({"detail": "Unknown layout."}, status=400)
    found = _definition(model, int(pk))
    if found is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    workflow, place = found
    if not settings.LAYOUT_SANDBOX_ORIGIN:
        text = str(_("Layouts cannot be shown here: LAYOUT_SANDBOX_ORIGIN is not set."))
        return JsonResponse({"problems": [{"line": None, "column": None, "text": text}]})
    bundle = workflow_bundle(workflow)
    preview = preview_frame(bundle, place(bundle, name), source, mode=mode)
    if preview.frame is None:
        problems = [{"line": p.line, "column": p.column, "text": str(p)} for p in preview.problems]
        return JsonResponse({"problems": problems})
    frame = preview.frame
    return JsonResponse(
        {"frame": {"url": frame.frame_url, "title": frame.title, "props": frame.props, "mode": frame.mode}}
    )


Place = Callable[[dict[str, Any], str], str]


def _definition(model: str, pk: int) -> tuple[WorkflowDefinition, Place] | None:
    """The workflow of a definition, and how to name one of its layouts' place in the bundle.

    The managers are company-scoped: another company's id is simply not found.
    """
    if model == "workflow":
        workflow = WorkflowDefinition.objects.filter(pk=pk).first()
        return (workflow, lambda bundle, name: f"workflow.{name}") if workflow else None
    if model == "task":
        task = TaskDefinition.objects.select_related("workflow").filter(pk=pk).first()
        if task is None:
            return None
        return task.workflow, lambda bundle, name: task_layout_path(bundle, task.key, name)
    if model == "tickettype":
        ticket_type = TicketDefinition.objects.select_related("workflow").filter(pk=pk).first()
        if ticket_type is None:
            return None

        def place(bundle: dict[str, Any], name: str) -> str:
            titles = [t["title"] for t in bundle.get("ticket_types") or []]
            found = titles.index(ticket_type.title) if ticket_type.title in titles else -1
            return ticket_type_layout_path(found, name) if found >= 0 else ""

        return ticket_type.workflow, place
    return None
