"""Code tasks on the design site: a source field checked at line and column, and "try it".

The field (code_editor.js) numbers its lines, indents with Tab and checks the source as it is
typed through `check_view` (the same `code_problems` that saving and publishing use). On a saved
task, "Try it" sends the editor's text and a sample input to `try_view`, which queues a
`CodeTrial` and its job; the page then asks `trial_view` until the sandbox has answered.
"""

import json
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from unfold.widgets import UnfoldAdminTextareaWidget

from ticketflower.accounts.models import User
from ticketflower.codetasks import services
from ticketflower.codetasks.checks import MAX_SOURCE_BYTES, code_problems
from ticketflower.codetasks.models import CodeTrial
from ticketflower.codetasks.selectors import code_trial_of
from ticketflower.core.limits import JsonRefused, json_loads_bounded
from ticketflower.core.ratelimit import rate_limit_hit
from ticketflower.definitions.fields import sample_value
from ticketflower.definitions.models import TaskDefinition

MAX_REQUEST_BYTES = MAX_SOURCE_BYTES + services.MAX_INPUT_BYTES + 10_000
CHECKS_LIMIT = "code_checks_per_user"
TRIES_LIMIT = "code_tries_per_user"


class CodeSourceWidget(UnfoldAdminTextareaWidget):
    """A code textarea that code_editor.js numbers, checks live and lets a designer try."""

    def __init__(self) -> None:
        super().__init__(attrs={"rows": 18, "spellcheck": "false", "wrap": "off", "class": "tf-code"})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        attrs = {**(attrs or {}), "data-code-check": reverse("design:code_check")}
        return super().get_context(name, value, attrs)

    class Media:
        js = ["admin_sites/code_editor.js"]


class CodeSourceField(forms.CharField):
    """Task code: empty, or code that parses, imports only what is allowed and defines run()."""

    def clean(self, value: Any) -> str:
        # Browsers post a textarea's lines with CRLF; the code is stored as it is written.
        text = str(super().clean(value) or "").replace("\r\n", "\n")
        if not text.strip():
            return ""
        problems = code_problems(text)
        if problems:
            raise ValidationError([str(problem) for problem in problems])
        return text


def code_formfield(db_field: Any) -> CodeSourceField:
    return CodeSourceField(
        label=db_field.verbose_name.capitalize(),
        required=False,
        strip=False,  # code is kept as written, its last newline too
        widget=CodeSourceWidget(),
        help_text=_(
            "Python: def run(input, context) returns a dict of the task's output fields. It may import "
            "json, re, math, statistics, decimal, datetime, itertools, collections, string, textwrap, "
            "csv, io, base64, hashlib and unicodedata. See docs/code-tasks.md."
        ),
    )


def aim_try(form: type[forms.ModelForm], obj: Any) -> None:  # type: ignore[type-arg]
    """Let the code field of a saved task try its code, starting from sample input."""
    field = form.base_fields.get("code")
    if field is None or not isinstance(obj, TaskDefinition) or not obj.pk:
        return
    field.widget.attrs["data-code-try"] = reverse("design:code_try")
    field.widget.attrs["data-code-task"] = str(obj.pk)
    field.widget.attrs["data-code-sample"] = json.dumps(sample_input(obj))


def sample_input(task: TaskDefinition) -> dict[str, Any]:
    """A sample value for each workflow field the task's input schema names."""
    fields = {f.get("name"): f for f in task.workflow.fields or [] if isinstance(f, dict)}
    names = ((task.input_schema or {}).get("properties") or {}).keys()
    sample = {}
    for name in names:
        try:
            sample[name] = sample_value(fields[name]) if name in fields else None
        except (KeyError, ValueError):
            sample[name] = None
    return sample


def urls(admin_view: Any) -> list[URLPattern]:
    return [
        path("code/check/", admin_view(check_view), name="code_check"),
        path("code/try/", admin_view(try_view), name="code_try"),
        path("code/tries/<int:trial_id>/", admin_view(trial_view), name="code_trial"),
    ]


def _limited(request: HttpRequest, scope: str) -> JsonResponse | None:
    if len(request.body) > MAX_REQUEST_BYTES:
        return JsonResponse({"detail": "The code and input are too large."}, status=413)
    limit = settings.RATE_LIMITS[scope]
    if rate_limit_hit(scope=scope, key=str(request.user.pk), **limit) is not None:
        return JsonResponse({"detail": "Too many requests: wait a minute."}, status=429)
    return None


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON object; None for anything else (not JSON, too deep, NaN, a \\u0000...)."""
    try:
        body = json_loads_bounded(request.body)
    except JsonRefused:
        return None
    return body if isinstance(body, dict) else None


@require_POST
def check_view(request: HttpRequest) -> JsonResponse:
    """{"problems": [{line, column, text}]} of the source sent; empty when it may run."""
    refused = _limited(request, CHECKS_LIMIT)
    if refused:
        return refused
    body = _json_body(request)
    if body is None or not isinstance(body.get("source"), str):
        return JsonResponse({"detail": "Send {source} as JSON."}, status=400)
    problems = code_problems(body["source"])
    return JsonResponse(
        {"problems": [{"line": p.line, "column": p.column, "text": str(p)} for p in problems]}
    )


@require_POST
def try_view(request: HttpRequest) -> JsonResponse:
    """Queue a try of {task, source, input}: 202 with where to ask, or 400 with what is wrong."""
    refused = _limited(request, TRIES_LIMIT)
    if refused:
        return refused
    body = _json_body(request)
    task_id = body.get("task") if body else None
    if body is None or not isinstance(task_id, int) or not isinstance(body.get("source"), str):
        return JsonResponse(
            {"detail": "Send {task, source, input} as plain JSON (no NaN, no \\u0000 characters)."},
            status=400,
        )
    task = TaskDefinition.objects.filter(pk=task_id).first()  # company-scoped: another's is not found
    if task is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    try:
        trial = services.code_trial_start(
            actor=cast(User, request.user), task=task, source=body["source"], input=body.get("input")
        )
    except ValidationError as exc:
        return JsonResponse({"problems": exc.message_dict}, status=400)
    except PermissionDenied:
        return JsonResponse({"detail": "Not found."}, status=404)
    url = reverse("design:code_trial", args=[trial.pk])
    return JsonResponse({"trial": trial.pk, "url": url}, status=202)


@require_GET
def trial_view(request: HttpRequest, trial_id: int) -> JsonResponse:
    """The state of one of the person's own tries (404 for anybody else's)."""
    trial = code_trial_of(cast(User, request.user), trial_id)
    if trial is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    if trial.status == CodeTrial.Status.QUEUED:
        return JsonResponse({"status": trial.status})
    return JsonResponse(
        {
            "status": trial.status,
            "outcome": trial.outcome,
            "output": trial.output,
            "output_problems": trial.output_problems,
            "message": trial.message,
            "traceback": trial.traceback,
            "log": trial.log,
            "ms": trial.ms,
        }
    )
