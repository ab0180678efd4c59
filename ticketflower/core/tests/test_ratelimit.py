"""Rate-limit counters: exact under concurrency, per scope and key, per window, stored hashed."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connections
from django.test import RequestFactory

from ticketflower.core import ratelimit
from ticketflower.core.models import RateLimitCounter
from ticketflower.core.ratelimit import client_network, rate_limit_hit, rate_limit_wait

pytestmark = pytest.mark.django_db

RATE = {"limit": 3, "window": 600}


def at(moment: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "timezone", SimpleNamespace(now=lambda: moment))


def test_attempts_up_to_the_limit_pass_and_the_next_waits_for_the_window_to_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at(datetime(2026, 5, 4, 10, 2, 30, tzinfo=UTC), monkeypatch)  # window 10:00-10:10
    assert [rate_limit_hit(scope="s", key="k", **RATE) for _ in range(3)] == [None, None, None]
    assert rate_limit_hit(scope="s", key="k", **RATE) == 7 * 60 + 30


def test_a_new_window_starts_a_new_count(monkeypatch: pytest.MonkeyPatch) -> None:
    at(datetime(2026, 5, 4, 10, 9, 59, tzinfo=UTC), monkeypatch)
    for _ in range(4):
        rate_limit_hit(scope="s", key="k", **RATE)
    at(datetime(2026, 5, 4, 10, 10, 0, tzinfo=UTC), monkeypatch)
    assert rate_limit_hit(scope="s", key="k", **RATE) is None


def test_scopes_and_keys_count_apart() -> None:
    for _ in range(3):
        rate_limit_hit(scope="login", key="10.0.0.1", **RATE)
    assert rate_limit_hit(scope="login", key="10.0.0.2", **RATE) is None
    assert rate_limit_hit(scope="signup", key="10.0.0.1", **RATE) is None
    assert rate_limit_hit(scope="login", key="10.0.0.1", **RATE) is not None


def test_waiting_reads_without_counting() -> None:
    for _ in range(2):
        rate_limit_hit(scope="s", key="k", **RATE)
    assert rate_limit_wait(scope="s", key="k", **RATE) is None
    assert rate_limit_wait(scope="s", key="k", **RATE) is None
    rate_limit_hit(scope="s", key="k", **RATE)
    assert rate_limit_wait(scope="s", key="k", **RATE) is not None


def test_keys_are_stored_hashed() -> None:
    rate_limit_hit(scope="s", key="ada@alpha.test", **RATE)
    stored = RateLimitCounter.objects.get()
    assert "ada" not in stored.key_hash and len(stored.key_hash) == 64


def test_expired_counters_are_removed_by_later_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    at(start, monkeypatch)
    rate_limit_hit(scope="s", key="old", **RATE)
    at(start + timedelta(hours=1), monkeypatch)
    rate_limit_hit(scope="s", key="new", **RATE)
    assert RateLimitCounter.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_connections_lose_no_count() -> None:
    """What gunicorn workers do: each its own database connection, all at once."""

    def hit(_: int) -> int | None:
        try:
            return rate_limit_hit(scope="s", key="k", limit=20, window=3600)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(hit, range(30)))
    assert results.count(None) == 20
    assert RateLimitCounter.objects.get().hits == 30


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"),
    ],
)
def test_a_client_is_counted_by_its_address_or_its_ipv6_64(address: str, network: str) -> None:
    assert client_network(RequestFactory().get("/", REMOTE_ADDR=address)) == network
