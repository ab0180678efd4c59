"""Keyset pagination: pages that cost the same on the first page and the thousandth, and no COUNT(*).

A page is read as "the next `size` rows after (value, pk) in this order", so the database
walks an index from that point instead of counting or skipping everything before it. Pages
are linked by an opaque cursor (signed, so a hand-made one is simply ignored) naming the
row at the edge and the direction; there are no page numbers.

The order is `field` then pk, both ascending or both descending; `field` must be non-null.
"""

import datetime
from dataclasses import dataclass
from typing import Any, Literal

from django.core import signing
from django.db.models import F, Q, QuerySet

_SALT = "ticketflower.portal.keyset"


@dataclass(frozen=True)
class Position:
    direction: Literal["after", "before"]
    value: Any
    pk: int


@dataclass(frozen=True)
class KeysetPage[T]:
    rows: list[T]
    next_cursor: str | None
    previous_cursor: str | None


def cursor_for(scope: str, direction: Literal["after", "before"], value: Any, pk: int) -> str:
    if isinstance(value, datetime.datetime):
        encoded: list[Any] = ["t", value.isoformat()]
    else:
        encoded = ["s", str(value)]
    return signing.dumps([direction, *encoded, pk], salt=f"{_SALT}:{scope}", compress=True)


def read_cursor(scope: str, cursor: str | None) -> Position | None:
    """The cursor's position, or None for no cursor, a tampered one or one of another order."""
    if not cursor:
        return None
    try:
        direction, kind, raw, pk = signing.loads(cursor, salt=f"{_SALT}:{scope}")
        value: Any = datetime.datetime.fromisoformat(raw) if kind == "t" else str(raw)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if direction not in ("after", "before") or not isinstance(pk, int):
        return None
    return Position(direction, value, pk)


def keyset_page(
    queryset: QuerySet[Any, dict[str, Any]],
    *,
    field: str,
    descending: bool,
    scope: str,
    cursor: str | None,
    size: int,
) -> KeysetPage[dict[str, Any]]:
    """One page of a `.values()` queryset ordered by `field`, pk; `scope` names the order for cursors.

    Each row carries its `field` value under "sort_value" and its pk under "pk".
    """
    position = read_cursor(scope, cursor)
    backwards = position is not None and position.direction == "before"
    ascending = descending == backwards  # a page before this one is read in the opposite order
    rows_qs = queryset.annotate(sort_value=F(field))
    if position is not None:
        op = "gt" if ascending else "lt"
        rows_qs = rows_qs.filter(
            Q(**{f"{field}__{op}": position.value}) | Q(**{field: position.value, f"pk__{op}": position.pk})
        )
    order = [field, "pk"] if ascending else [f"-{field}", "-pk"]
    rows = list(rows_qs.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = True if backwards else more
    has_previous = more if backwards else position is not None
    return KeysetPage(
        rows=rows,
        next_cursor=(
            cursor_for(scope, "after", rows[-1]["sort_value"], rows[-1]["pk"]) if rows and has_next else None
        ),
        previous_cursor=(
            cursor_for(scope, "before", rows[0]["sort_value"], rows[0]["pk"])
            if rows and has_previous
            else None
        ),
    )
