"""The workflow rules, as plain Python over a release's frozen bundle: no database, no HTTP.

A run holds `data` (the workflow's fields) and stands at one task at a time. What a task
reads is the part of `data` its input schema names; what it writes is validated against its
output schema before it is merged. When a task is done its outgoing transitions are tried by
(priority, position in the bundle); the first whose CEL condition holds is taken, and an empty
condition always holds. A task with no outgoing transition ends the run; one whose
transitions all fail to hold stops it in error, because silently finishing would hide a
design mistake.

The services (`runtime/services.py`) apply these decisions to the database with
compare-and-set updates; conditions and schemas run in the bounded evaluator processes.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ticketflower.definitions import expressions

Bundle = Mapping[str, Any]
TaskSpec = Mapping[str, Any]


class EngineError(Exception):
    """The run cannot go on; `reason` is a sentence for the ticket admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutputInvalid(Exception):
    """A task's output does not satisfy its output schema; nothing of it may be merged."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Step:
    """Where a run goes after a task: to `task`, to its end, or nowhere (an error)."""

    outcome: Literal["task", "completed", "error"]
    task: TaskSpec | None = None
    reason: str = ""


def task_spec(bundle: Bundle, key: str) -> TaskSpec:
    for task in bundle["workflow"]["tasks"]:
        if task["key"] == key:
            return task  # type: ignore[no-any-return]
    raise EngineError(f"The release has no task {key!r}.")


def _transitions_from(bundle: Bundle, key: str | None) -> list[Mapping[str, Any]]:
    """Outgoing transitions of `key` (None: the start) in the order they are tried."""
    outgoing = [(t.get("priority") or 0, i, t) for i, t in enumerate(bundle["workflow"]["transitions"])]
    return [t for _, _, t in sorted((o for o in outgoing if o[2]["from"] == key), key=lambda o: o[:2])]


Holds = Callable[[str, dict[str, Any]], bool]


def _condition_holds(expression: str, context: dict[str, Any]) -> bool:
    return expressions.condition_holds(expression, context)


def first_task(bundle: Bundle, data: Mapping[str, Any], *, holds: Holds = _condition_holds) -> TaskSpec:
    """The task a new run starts at (the start transition may carry a condition too)."""
    step = _route(bundle, None, data, holds=holds, after="the start")
    if step.task is None:
        raise EngineError(step.reason or "The workflow has no start.")
    return step.task


def next_step(
    bundle: Bundle, after: TaskSpec, data: Mapping[str, Any], *, holds: Holds = _condition_holds
) -> Step:
    """Where the run goes once task `after` is done, given the merged `data`."""
    return _route(bundle, after["key"], data, holds=holds, after=str(after.get("title") or after["key"]))


def _route(bundle: Bundle, key: str | None, data: Mapping[str, Any], *, holds: Holds, after: str) -> Step:
    transitions = _transitions_from(bundle, key)
    if not transitions:
        return Step("completed")
    context = {"data": dict(data)}
    for transition in transitions:
        condition = (transition.get("condition") or "").strip()
        try:
            taken = not condition or holds(condition, context)
        except expressions.ExpressionError as exc:
            return Step("error", reason=f"The condition {condition!r} after {after} failed: {exc}")
        if taken:
            return Step("task", task=task_spec(bundle, transition["to"]))
    return Step("error", reason=f"No transition matched after {after}.")


def _schema_fields(schema: Mapping[str, Any] | None) -> list[str]:
    return list(((schema or {}).get("properties") or {}).keys())


def task_input(task: TaskSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow fields the task's input schema names (those that have a value)."""
    return {name: data[name] for name in _schema_fields(task.get("input_schema")) if name in data}


def task_output_fields(task: TaskSpec) -> list[str]:
    return _schema_fields(task.get("output_schema"))


def unknown_output_fields(task: TaskSpec, output: Mapping[str, Any]) -> dict[str, list[str]]:
    """The keys of `output` that are not fields this task's output schema names."""
    allowed = set(task_output_fields(task))
    return {key: [f"{key!r} is not a field this task records."] for key in output if key not in allowed}


def output_errors(task: TaskSpec, output: Any) -> dict[str, list[str]]:
    """What is wrong with `output` as this task's result, by field ("" for the whole)."""
    if not isinstance(output, dict):
        return {"": ["The output must be a JSON object."]}
    errors = unknown_output_fields(task, output)
    schema = task.get("output_schema") or {"type": "object"}
    try:
        found = expressions.field_errors(dict(schema), output)
    except expressions.ExpressionError as exc:  # over a time or memory limit: refused, never merged
        return {**errors, "": [str(exc)]}
    for field, messages in found.items():
        if field not in errors:  # an unknown key is reported once, above
            errors[field] = messages
    return errors


def merged(task: TaskSpec, data: Mapping[str, Any], output: Any) -> dict[str, Any]:
    """`data` with the task's validated `output` merged in; raises OutputInvalid otherwise."""
    errors = output_errors(task, output)
    if errors:
        raise OutputInvalid(errors)
    return {**data, **output}


def action_context(task: TaskSpec, data: Mapping[str, Any], ticket: Mapping[str, Any]) -> dict[str, Any]:
    """What an action's `input_transform` sees."""
    return {"data": dict(data), "ticket": dict(ticket), "task": {"key": task["key"], "title": task["title"]}}


def action_body(task: TaskSpec, data: Mapping[str, Any], ticket: Mapping[str, Any]) -> Any:
    """The JSON an action sends: its input transform over the run, or the task's input as is."""
    template = task.get("input_transform")
    if template in (None, "", {}):
        return task_input(task, data)
    try:
        return expressions.transform_render(template, action_context(task, data, ticket))
    except expressions.ExpressionError as exc:
        raise EngineError(f"The input transform of {task['title']} failed: {exc}") from exc


def action_output(
    task: TaskSpec, response: Any, data: Mapping[str, Any], ticket: Mapping[str, Any]
) -> dict[str, Any]:
    """The task output from an endpoint's (or callback's) JSON answer, validated.

    Without an output transform the answer itself is the output.
    """
    template = task.get("output_transform")
    if template in (None, "", {}):
        output = response
    else:
        context = {"response": response, "data": dict(data), "ticket": dict(ticket)}
        try:
            output = expressions.transform_render(template, context)
        except expressions.ExpressionError as exc:
            raise OutputInvalid({"": [f"The output transform failed: {exc}"]}) from exc
    errors = output_errors(task, output)
    if errors:
        raise OutputInvalid(errors)
    return dict(output)


def is_action(task: TaskSpec) -> bool:
    return task["type"] in ("SYNC_ACTION", "ASYNC_ACTION")


def is_automated(task: TaskSpec) -> bool:
    """Runs by itself in a job (an HTTP action or code), never given to a person."""
    return is_action(task) or task["type"] == "CODE"


def code_context(task: TaskSpec, ticket: Mapping[str, Any], workflow: Mapping[str, Any]) -> dict[str, Any]:
    """What a CODE task's `run(input, context)` gets as `context` (read-only there)."""
    return {
        "ticket": dict(ticket),
        "workflow": dict(workflow),
        "task": {"key": task["key"], "title": task["title"]},
    }
