"""Trying a code task on the design site: a trial and its job, then the sandbox's answer recorded."""

import json
import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, transaction
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from ticketflower.accounts.models import User
from ticketflower.codetasks import jobs
from ticketflower.codetasks.checks import code_problems
from ticketflower.codetasks.models import CodeTrial
from ticketflower.core.limits import MAX_VALUE_DEPTH, MAX_VALUE_NODES, json_storable, json_within_limits
from ticketflower.definitions.models import TaskDefinition
from ticketflower.runtime import engine
from ticketflower.tenancy.models import SystemRole
from ticketflower.tenancy.permissions import require_system_role

if TYPE_CHECKING:
    from ticketflower.codetasks.sandbox import Outcome

logger = logging.getLogger(__name__)
MAX_INPUT_BYTES = 100_000
TRIALS_KEPT = 20  # per person: older ones are deleted when a new one starts


@transaction.atomic
def code_trial_start(*, actor: User, task: TaskDefinition, source: str, input: Any) -> CodeTrial:
    """Queue a try of `source` with `input` as the task's input; ValidationError when either is wrong.

    The source need not be saved: the editor's text is tried. Nothing runs in this request.
    """
    require_system_role(actor, SystemRole.WORKFLOW_CREATOR)
    if task.company_id != actor.company_id:
        raise PermissionDenied
    problems = code_problems(source)
    if problems:
        raise ValidationError({"source": [str(problem) for problem in problems]})
    if not isinstance(input, dict):
        raise ValidationError({"input": ['The input must be a JSON object: {"field": value, ...}.']})
    too_big = json_within_limits(input, max_depth=MAX_VALUE_DEPTH, max_nodes=MAX_VALUE_NODES)
    if too_big:
        raise ValidationError({"input": [f"The input {too_big}."]})
    try:
        encoded = json.dumps(input, allow_nan=False)  # ASCII: its length is its size in bytes
    except ValueError:  # NaN or infinity
        encoded = ""
    if not encoded or not json_storable(input):
        raise ValidationError(
            {"input": ["The input holds a value that cannot be stored (NaN, or a \\u0000)."]}
        )
    if len(encoded) > MAX_INPUT_BYTES:
        raise ValidationError({"input": [f"The input is over {MAX_INPUT_BYTES:,} bytes."]})
    trial: CodeTrial = CodeTrial.objects.create(task=task, source=source, input=input, created_by=actor)
    older = (
        CodeTrial.objects.filter(created_by=actor).order_by("-pk").values_list("pk", flat=True)[TRIALS_KEPT:]
    )
    CodeTrial.objects.filter(pk__in=list(older)).delete()
    try:
        with transaction.atomic():  # a savepoint: a refused job must not break this transaction
            jobs.defer_trial(trial)
    except AlreadyEnqueued:
        raise ValidationError(
            {"source": ["Your last try is still waiting to run: wait for its answer."]}
        ) from None
    return trial


def code_trial_run(trial_id: int) -> None:
    """Run a queued trial in the sandbox and record the outcome (once: a repeated job does nothing)."""
    from ticketflower.codetasks.sandbox import Outcome, code_run

    trial = CodeTrial.objects.select_related("task__workflow", "created_by").filter(pk=trial_id).first()
    if trial is None or trial.status != CodeTrial.Status.QUEUED:
        return
    task = trial.task
    spec = {"key": task.key, "title": task.title, "output_schema": task.output_schema}
    context = engine.code_context(
        spec,
        {
            "id": 0,
            "type": "(a try on the design site)",
            "submitted_by": trial.created_by.email,
            "submitted_at": trial.created_at.isoformat(),
        },
        {"title": task.workflow.title, "release": None},
    )
    outcome = code_run(source=trial.source, input=trial.input, context=context, seconds=task.timeout_seconds)
    problems = engine.output_errors(spec, outcome.output) if outcome.ok else {}
    try:
        with transaction.atomic():
            _record(trial, outcome, problems)
    except DataError:  # the sandbox checks what it passes on; this is the backstop
        logger.exception("The outcome of code try %s could not be stored.", trial.pk)
        _record(
            trial, Outcome("invalid", message="The code's answer could not be stored.", ms=outcome.ms), {}
        )


def _record(trial: CodeTrial, outcome: "Outcome", problems: dict[str, list[str]]) -> None:
    CodeTrial.objects.filter(pk=trial.pk, status=CodeTrial.Status.QUEUED).update(
        status=CodeTrial.Status.DONE,
        outcome=outcome.kind,
        output=outcome.output,
        output_problems=problems,
        message=outcome.message,
        traceback=outcome.traceback,
        log=outcome.log,
        ms=outcome.ms,
        finished_at=timezone.now(),
    )
