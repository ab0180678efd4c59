"""The evaluator child: runs user-written CEL, JSON-e and JSON Schema for evaluator.py.

Started as `python -I evaluator_child.py SECONDS MEGABYTES RESULT_BYTES` with an empty
environment. It imports nothing of TicketFlower or Django and holds no secrets. Before reading
any request it limits itself: address space (MEGABYTES), no core files, and CPU time as a
backstop (the parent's wall-clock deadline is the real limit; this one also stops a runaway
evaluation when the parent is gone).

Protocol: one JSON object per line each way, strictly in turn. The child first says
{"ready": true}; then for each request {"op": ..., ...} it answers one of
    {"ok": value}
    {"error": message, "syntax": bool}      the expression is wrong (for this data)
    {"limit": "memory"}                     it needs more memory than allowed
A reply with "exit": true is the child's last: it may be damaged (a panic in the Rust CEL
library, a MemoryError) and stops, and the parent starts another when one is needed.
"""

import importlib.machinery
import importlib.util
import json
import math
import resource
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsone
from jsone.shared import TemplateError

MAX_MESSAGE = 500
MAX_SCHEMA_ERRORS = 20


class _Reply(Exception):
    """Stops a handler with this exact reply (an error the user should see)."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply


def main(argv: list[str]) -> None:
    seconds, megabytes, result_bytes = float(argv[1]), int(argv[2]), int(argv[3])
    _limit_self(megabytes)
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        _cpu_backstop(seconds)
        reply, last = _answer(line, result_bytes)
        out.write(reply + b"\n")
        out.flush()
        if last:
            return


def _answer(line: bytes, result_bytes: int) -> tuple[bytes, bool]:
    """The reply to one request line, and whether this child must stop after it."""
    try:
        try:
            request = json.loads(line)
            result = HANDLERS[request.pop("op")](**request)
        except _Reply as signal:
            return json.dumps(signal.reply).encode(), bool(signal.reply.get("exit"))
        except RecursionError:
            return _error("It is nested too deeply to evaluate.")
        except MemoryError:
            raise
        except Exception as exc:  # any failure of user-written code is an answer, not a crash
            return _error(_message(exc))
        try:
            encoded = json.dumps({"ok": result}, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            return _error(f"The result is not plain JSON: {_message(exc)}")
        if len(encoded) > result_bytes:
            return _error(f"The result is too big (over {result_bytes:,} bytes).")
        return encoded, False
    except MemoryError:
        return b'{"limit": "memory", "exit": true}', True


def _error(message: str, *, syntax: bool = False) -> tuple[bytes, bool]:
    return json.dumps({"error": message, "syntax": syntax}).encode(), False


def _limit_self(megabytes: int) -> None:
    memory = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _cpu_backstop(seconds: float) -> None:
    """Let this request use the CPU for a little longer than the parent waits, and no more."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 2
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(
        resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )


# --- CEL ---------------------------------------------------------------------------------


def _load_cel() -> Any:
    """cel's Rust module, without the package's command-line interface (typer and rich add
    a quarter of a second to every start)."""
    spec = importlib.util.find_spec("cel")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"cel{suffix}"
            if path.exists():
                loader = importlib.machinery.ExtensionFileLoader("cel.cel", str(path))
                module_spec = importlib.util.spec_from_loader("cel.cel", loader)
                if module_spec is not None:
                    module = importlib.util.module_from_spec(module_spec)
                    loader.exec_module(module)
                    return module
    import cel  # a layout we did not expect: the slower, public way

    return cel


_cel = _load_cel()


@lru_cache(maxsize=256)
def _compiled(expression: str) -> Any:
    try:
        return _cel.compile(expression)
    except (ValueError, RuntimeError) as exc:
        raise _Reply({"error": _message(exc), "syntax": True}) from exc
    except BaseException as exc:
        # The Rust parser panics on some long inputs; pyo3 raises PanicException, a
        # BaseException. The library's state after a panic is not known: this child stops.
        if type(exc).__name__ != "PanicException":
            raise
        raise _Reply(
            {"error": "The CEL parser failed on this condition.", "syntax": True, "exit": True}
        ) from None


def _condition_check(expression: str) -> None:
    _compiled(expression)


def _condition_holds(expression: str, context: dict[str, Any]) -> bool:
    program = _compiled(expression)
    try:
        result = program.execute(context)
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise _Reply(
            {"error": "The CEL library failed on this condition.", "syntax": False, "exit": True}
        ) from None
    if not isinstance(result, bool):
        raise _Reply(
            {"error": f"The condition gave {_clip(repr(result))}, not true or false.", "syntax": False}
        )
    return result


# --- JSON-e ------------------------------------------------------------------------------


def _transform_render(template: Any, context: dict[str, Any]) -> Any:
    try:
        return jsone.render(template, context)
    except TemplateError as exc:
        raise _Reply({"error": _message(exc), "syntax": True}) from exc


# --- JSON Schema -------------------------------------------------------------------------


def _schema_check(schema: Any) -> str | None:
    """None for a valid JSON Schema (draft 2020-12), else what is wrong with it."""
    # jsonschema is imported on first use: it takes a tenth of a second, every start.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return _clip(exc.message)
    return None


def _schema_errors(schema: Any, instance: Any) -> list[str]:
    """What is wrong with `instance` under `schema` ("place: message"), the first few by place."""
    from jsonschema import Draft202012Validator

    found = []
    for error in Draft202012Validator(schema).iter_errors(instance):
        place = ".".join(str(part) for part in error.absolute_path)
        found.append(_clip(f"{place}: {error.message}" if place else error.message))
        if len(found) >= MAX_SCHEMA_ERRORS:
            break
    return sorted(found)


def _field_errors(schema: Any, instance: Any) -> dict[str, list[str]]:
    """What is wrong with an object `instance`, by top-level property ("" for the whole).

    Formats (date, email, …) are checked too: this is what submitted data and task outputs
    must pass before the engine merges them.
    """
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found: dict[str, list[str]] = {}
    for count, error in enumerate(validator.iter_errors(instance)):
        if count >= MAX_SCHEMA_ERRORS:
            break
        path = list(error.absolute_path)
        if path:
            field, message = str(path[0]), error.message
        elif error.validator == "required":
            field, message = str(error.message).split("'")[1], "This field is required."
        elif error.validator == "additionalProperties":
            declared = error.schema.get("properties") if isinstance(error.schema, dict) else None
            for name in sorted(set(instance) - set(declared or {}) if isinstance(instance, dict) else ()):
                found.setdefault(name, []).append("This field is not expected here.")
            continue
        else:
            field, message = "", error.message
        found.setdefault(field, []).append(_clip(message))
    return found


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _clip(text.splitlines()[0] if "\n" in text and len(text) > 300 else text)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


HANDLERS: dict[str, Callable[..., Any]] = {
    "condition_check": _condition_check,
    "condition_holds": _condition_holds,
    "transform_render": _transform_render,
    "schema_check": _schema_check,
    "schema_errors": _schema_errors,
    "field_errors": _field_errors,
}

if __name__ == "__main__":
    main(sys.argv)
