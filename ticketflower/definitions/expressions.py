"""The two expression languages of definitions, behind one small interface.

- Conditions are CEL (Common Expression Language): side-effect free, no loops, bounded by
  design. `data.amount > 1000 && data.department == "IT"`
- Transforms are JSON-e templates: JSON in, JSON out.
  `{"title": "${data.laptop} for ${ticket.submitted_by}", "qty": {"$eval": "data.count"}}`
"""

from typing import Any

import cel
import jsone
from jsone.shared import TemplateError


class ExpressionError(ValueError):
    """An expression that does not parse, or fails when evaluated; the message says where.

    `syntax` tells the two apart: a syntax error is wrong whatever the data.
    """

    def __init__(self, message: str, *, syntax: bool = False) -> None:
        super().__init__(message)
        self.syntax = syntax


def condition_check(expression: str) -> None:
    """Raise ExpressionError unless `expression` is valid CEL."""
    if not expression.strip():
        return
    try:
        cel.compile(expression)
    except (ValueError, RuntimeError) as exc:
        raise ExpressionError(_first_line(exc), syntax=True) from exc


def condition_holds(expression: str, context: dict[str, Any]) -> bool:
    """Evaluate a CEL condition; an empty condition always holds, a non-boolean result is an error."""
    if not expression.strip():
        return True
    try:
        result = cel.evaluate(expression, context)
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise ExpressionError(_first_line(exc)) from exc
    if not isinstance(result, bool):
        raise ExpressionError(f"The condition gave {result!r}, not true or false.")
    return result


def transform_render(template: Any, context: dict[str, Any]) -> Any:
    """Render a JSON-e template with `context`."""
    try:
        return jsone.render(template, context)
    except TemplateError as exc:
        raise ExpressionError(_first_line(exc), syntax=True) from exc
    except jsone.JSONTemplateError as exc:
        raise ExpressionError(_first_line(exc)) from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise ExpressionError(str(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if "\n" in text and len(text) > 300 else text
