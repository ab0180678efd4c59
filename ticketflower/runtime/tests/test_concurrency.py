"""Assignment and claims under real concurrency: many threads, each its own database connection."""

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from conftest import Tenant, make_tenant
from tests.factories import make_user
from ticketflower.runtime import services
from ticketflower.runtime.models import QUEUED_TASK_STATUSES, TaskInstance
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import SystemRole

from .workflows import current, publish, review_bundle

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(calls: list[Callable[[], Any]], threads: int = 10) -> list[Any]:
    def run(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def tenant() -> Tenant:
    tenant = make_tenant("Alpha Florists")
    for _ in range(3):  # five task workers with the admin and the worker
        make_user(tenant.company, roles=[SystemRole.TASK_WORKER])
    return tenant


def test_fifty_tasks_created_together_spread_evenly_over_five_workers(tenant: Tenant) -> None:
    ticket_type = publish(tenant.designer, review_bundle())

    def submit() -> Any:
        return services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "x"})

    outcomes = in_threads([submit] * 50)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    with company_context(tenant.company):
        queues = Counter(
            TaskInstance.objects.filter(status__in=QUEUED_TASK_STATUSES).values_list("assigned_to", flat=True)
        )
    assert len(queues) == 5 and sum(queues.values()) == 50
    assert max(queues.values()) - min(queues.values()) <= 1


def test_fifty_claims_of_one_pool_task_have_exactly_one_winner(tenant: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["assignment"] = "pool"
    ticket_type = publish(tenant.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "x"})
    task = current(ticket)
    with company_context(tenant.company):
        workers = list(services.eligible_workers(task))
    assert len(workers) == 5

    def claim(worker: Any) -> Callable[[], Any]:
        return lambda: services.task_claim(worker=worker, task=task)

    outcomes = in_threads([claim(workers[i % 5]) for i in range(50)])
    winners = [o for o in outcomes if isinstance(o, TaskInstance)]
    losers = [o for o in outcomes if isinstance(o, services.WrongState)]
    assert len(winners) == 1 and len(losers) == 49
    assert all("already taken" in loser.reason for loser in losers)
    assert current(ticket).assigned_to == winners[0].assigned_to
