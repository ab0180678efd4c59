"""Fifty workers press Claim on one pool task at once: one gets it, the others are told it was taken."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from conftest import make_tenant
from tests.factories import make_user
from ticketflower.accounts.models import User
from ticketflower.runtime.tests.workflows import current
from ticketflower.tenancy.models import SystemRole

from .work import review_ticket, task_now, to_pool

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_claims_at_once_give_one_owner_and_forty_nine_already_taken() -> None:
    tenant = make_tenant("Alpha Florists")
    task = to_pool(current(review_ticket(tenant)))
    workers = [make_user(tenant.company, roles=[SystemRole.TASK_WORKER]) for _ in range(10)]
    clients = []
    for index in range(50):
        client = Client()
        client.force_login(workers[index % 10])
        clients.append(client)
    url = reverse("worker:runtime_pooltask_claim", args=[task.pk])

    def claim(client: Client) -> tuple[int, list[str]]:
        try:
            response = client.post(url)
            return response.status_code, [str(m) for m in get_messages(response.wsgi_request)]
        finally:
            connection.close()

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(claim, clients))

    assert {status for status, _ in outcomes} == {302}
    said = Counter(message for _, messages in outcomes for message in messages)
    assert said == {"“Review” is yours now.": 1, "“Review” was already taken.": 49}
    owner = task_now(task).assigned_to
    assert isinstance(owner, User) and owner in workers
