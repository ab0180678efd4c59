"""What users write that runs: two expression languages and JSON Schemas, behind one interface.

- Conditions are CEL (Common Expression Language): side-effect free, no loops.
  `data.amount > 1000 && data.department == "IT"`
- Transforms are JSON-e templates: JSON in, JSON out.
  `{"title": "${data.laptop} for ${ticket.submitted_by}", "qty": {"$eval": "data.count"}}`
- Task schemas are JSON Schemas (draft 2020-12); their `pattern`s are regular expressions.

Each still fits in a few hundred characters and runs for minutes or fills the memory, so none
of them runs in this process: every call goes to an evaluator child under a hard time and
memory limit (evaluator.py). Over a limit, the call raises ExpressionLimitError. Contexts and
templates must be plain JSON.
"""

from typing import Any

from ticketflower.definitions import evaluator
from ticketflower.definitions.evaluator import time_budget

__all__ = [
    "ExpressionError",
    "ExpressionLimitError",
    "condition_check",
    "condition_holds",
    "field_errors",
    "schema_check",
    "schema_errors",
    "time_budget",
    "transform_render",
]


class ExpressionError(ValueError):
    """An expression that does not parse, or fails when evaluated; the message says where.

    `syntax` tells the two apart: a syntax error is wrong whatever the data.
    """

    def __init__(self, message: str, *, syntax: bool = False) -> None:
        super().__init__(message)
        self.syntax = syntax


class ExpressionLimitError(ExpressionError):
    """It needed more than its limit, so its result is unknown (for this data).

    `reason` is "time" or "memory" for the expression's own limits, or "budget" when the
    time shared by a whole check (`time_budget`) ran out before it finished: not checked.
    """

    def __init__(self, message: str, *, reason: evaluator.Reason) -> None:
        super().__init__(message)
        self.reason: evaluator.Reason = reason


def condition_check(expression: str) -> None:
    """Raise ExpressionError unless `expression` is valid CEL."""
    if not expression.strip():
        return
    _run("condition_check", expression=expression)


def condition_holds(expression: str, context: dict[str, Any]) -> bool:
    """Evaluate a CEL condition; an empty condition always holds, a non-boolean result is an error."""
    if not expression.strip():
        return True
    return bool(_run("condition_holds", expression=expression, context=context))


def transform_render(template: Any, context: dict[str, Any]) -> Any:
    """Render a JSON-e template with `context`."""
    return _run("transform_render", template=template, context=context)


def schema_check(schema: Any) -> str | None:
    """None when `schema` is a valid JSON Schema (draft 2020-12), else what is wrong with it."""
    result = _run("schema_check", schema=schema)
    return None if result is None else str(result)


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """What is wrong with `instance` under a valid `schema`: "place: message", the first 20."""
    found = _run("schema_errors", schema=schema, instance=instance)
    return [str(message) for message in found]


def field_errors(schema: dict[str, Any], instance: Any) -> dict[str, list[str]]:
    """What is wrong with an object under a valid `schema`, by top-level field ("" for the whole).

    Unlike `schema_errors`, formats (date, e-mail, …) are checked: this is the gate for data
    that enters a run.
    """
    found = _run("field_errors", schema=schema, instance=instance)
    return {str(field): [str(m) for m in messages] for field, messages in found.items()}


# How a limit message names what ran: "The condition takes too long to evaluate".
_NAMES = {
    "condition_check": ("The condition", "evaluate"),
    "condition_holds": ("The condition", "evaluate"),
    "transform_render": ("The transform", "evaluate"),
    "schema_check": ("The schema", "check"),
    "schema_errors": ("The schema", "check against"),
    "field_errors": ("The schema", "check against"),
}


def _run(op: str, **arguments: Any) -> Any:
    try:
        reply = evaluator.run({"op": op, **arguments})
    except evaluator.OverBudget as exc:
        raise ExpressionLimitError(_limit_message(*_NAMES[op], exc), reason=exc.reason) from exc
    if "error" in reply:
        raise ExpressionError(str(reply["error"]), syntax=bool(reply.get("syntax")))
    return reply["ok"]


def _limit_message(what: str, verb: str, exc: evaluator.OverBudget) -> str:
    if exc.reason == "time":
        return f"{what} takes too long to {verb} (over {exc.seconds:g} s)."
    if exc.reason == "memory":
        return f"{what} needs too much memory (over {exc.megabytes} MB)."
    return f"Not checked: the time for all checks together ({exc.seconds:g} s) ran out."
