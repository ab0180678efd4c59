"""How big the things people write may be: uploads, JSON values, JSON Schemas, results.

Checked before any other work so that nothing a user writes can stall a process or exhaust its
memory: a value past a cap is refused with a message, never parsed further, validated or
stored. docs/bundle-format.md ("Upload limits") lists them for users.
"""

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
