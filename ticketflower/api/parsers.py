"""The API's JSON parser: what PostgreSQL cannot store, or we cannot walk, is a 400, never a 500."""

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ticketflower.core.limits import MAX_JSON_DEPTH, MAX_JSON_NODES, json_storable, json_within_limits


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class SafeJSONParser(JSONParser):
    """JSON as DRF reads it, refusing NaN/Infinity, deep or huge values and strings jsonb refuses."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            value = json.loads(raw or b"null", parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error: {str(exc)[:200]}") from exc
        too_big = json_within_limits(value, max_depth=MAX_JSON_DEPTH, max_nodes=MAX_JSON_NODES)
        if too_big:
            raise ParseError(f"The body {too_big}.")
        if not json_storable(value):
            raise ParseError("The body holds a NUL character or a broken Unicode escape.")
        return value
