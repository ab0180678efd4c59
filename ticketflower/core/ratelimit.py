"""Rate limits shared by every web process: attempts counted in PostgreSQL per fixed window.

The limits are settings (RATE_LIMITS): call `rate_limit_hit(scope=..., key=...,
**settings.RATE_LIMITS[scope])`.

A limit allows `limit` attempts per key in each window of `window` seconds (windows start at
multiples of `window` since the epoch, so a burst across a boundary can reach twice the
limit). Keys are stored as SHA-256 hashes. Each call runs in its own statement: call these
outside a transaction that may roll back, or the count goes with it.
"""

import hashlib
import ipaddress
import math
from datetime import UTC, datetime, timedelta

from axes.helpers import get_client_ip_address
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from ticketflower.core.models import RateLimitCounter

# Expired counters removed per call: bounded work, and SKIP LOCKED keeps callers from waiting
# on each other.
_PRUNE_BATCH = 100


def client_network(request: HttpRequest) -> str:
    """The caller's address as django-axes reads it; IPv6 as its /64, which one client may own."""
    address = get_client_ip_address(request) or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def rate_limit_hit(*, scope: str, key: str, limit: int, window: int) -> int | None:
    """Count one attempt; the seconds to wait when it is over the limit, else None."""
    now = timezone.now()
    start, end = _window(now, window)
    table = connection.ops.quote_name(RateLimitCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One statement, so concurrent processes never lose a count.
        cursor.execute(
            f"INSERT INTO {table} (scope, key_hash, window_start, expires_at, hits) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, 1) "
            "ON CONFLICT (scope, key_hash, window_start) "
            f"DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [scope, _hash(key), start, end],
        )
        hits = cursor.fetchone()[0]
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "  # noqa: S608
            "WHERE expires_at < %s LIMIT %s FOR UPDATE SKIP LOCKED)",
            [now, _PRUNE_BATCH],
        )
    return _seconds_until(end, now) if hits > limit else None


def rate_limit_wait(*, scope: str, key: str, limit: int, window: int) -> int | None:
    """Without counting: the seconds to wait when `limit` attempts are already used, else None."""
    now = timezone.now()
    start, end = _window(now, window)
    hits = (
        RateLimitCounter.objects.filter(scope=scope, key_hash=_hash(key), window_start=start)
        .values_list("hits", flat=True)
        .first()
    )
    return _seconds_until(end, now) if hits is not None and hits >= limit else None


def _window(now: datetime, window: int) -> tuple[datetime, datetime]:
    start = datetime.fromtimestamp(int(now.timestamp()) // window * window, tz=UTC)
    return start, start + timedelta(seconds=window)


def _seconds_until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
