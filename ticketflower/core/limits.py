"""How big the things people write may be: uploads, JSON values, JSON Schemas, results.

Checked before any other work so that nothing a user writes can stall a process or exhaust its
memory: a value past a cap is refused with a message, never parsed further, validated or
stored. docs/bundle-format.md ("Upload limits") lists them for users.
"""

import json
import math
from typing import Any

MAX_BUNDLE_BYTES = 1_000_000
# Any JSON a person writes: a whole bundle, an admin JSON field. Python's own recursion
# (json.dumps, jsonschema, the database adapter) fails somewhere past 500 levels.
MAX_JSON_DEPTH = 64
MAX_JSON_NODES = 100_000
# One free-form value inside a definition: a task schema, a transform, a preset. Checking a
# schema against the JSON Schema meta-schema recurses several frames per level and costs
# about 0.1 ms per value.
MAX_VALUE_DEPTH = 32
MAX_VALUE_NODES = 10_000
# What one evaluation (a transform's output, a list of schema errors) may give back.
MAX_RESULT_BYTES = 1_000_000


def json_within_limits(value: Any, *, max_depth: int, max_nodes: int) -> str | None:
    """None when `value` nests at most `max_depth` containers deep and holds at most `max_nodes`
    values; otherwise what is too big, as the end of a sentence ("nests more than 32 levels deep").

    Iterative and stopping at the first excess, so it is safe on values too deep for recursion,
    on values that share parts (a YAML alias expansion) and even on cyclic ones.
    """
    nodes = 1
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= max_depth:  # this container is level depth + 1
            return f"nests more than {max_depth} levels deep"
        nodes += len(children)
        if nodes > max_nodes:  # counted before pushing: the stack never outgrows the cap
            return f"holds more than {max_nodes:,} values"
        stack.extend((child, depth + 1) for child in children)
    return None


def json_storable(value: Any) -> bool:
    """Whether PostgreSQL's jsonb can hold `value`'s strings: no NUL character, no lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
    return True


class JsonRefused(ValueError):
    """JSON someone else wrote that is not kept; str() ends a sentence: "nests more than 64 levels deep"."""

    def __init__(self, what: str, *, not_json: bool = False) -> None:
        super().__init__(what)
        self.not_json = not_json


def json_loads_bounded(raw: bytes) -> Any:
    """Parse JSON from outside (an endpoint's answer, a sandbox's): plain JSON only (no NaN or
    Infinity), within MAX_JSON_DEPTH and MAX_JSON_NODES, and storable by PostgreSQL."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise JsonRefused(f"nests more than {MAX_JSON_DEPTH} levels deep") from exc
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise JsonRefused("is not JSON", not_json=True) from exc
    too_big = json_within_limits(value, max_depth=MAX_JSON_DEPTH, max_nodes=MAX_JSON_NODES)
    if too_big:
        raise JsonRefused(too_big)
    # PostgreSQL's jsonb stores neither NUL nor lone surrogates; both only come from \u escapes.
    if b"\\u" in raw and not json_storable(value):
        raise JsonRefused("holds a \\u0000 character or a broken \\u escape, which cannot be stored")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):  # 1e400: Python reads it as infinity, which no database stores
        raise ValueError(f"{text[:20]} is too large a number")
    return number
