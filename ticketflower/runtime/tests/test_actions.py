"""HTTP actions end to end: a real job worker process calls real loopback endpoints."""

import itertools
from typing import Any

import pytest
import standardwebhooks
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Tenant, make_tenant
from tests.live_parts import Endpoint, Reply, job_worker, kill_hard, wait_until
from ticketflower.runtime import services
from ticketflower.runtime.models import EventKind, TaskInstance, TaskStatus, TicketEvent, TicketInstance
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company

from . import workflows
from .workflows import form, publish, run_of

pytestmark = pytest.mark.django_db(transaction=True)


def action(url: str, kind: str = "SYNC_ACTION", **extra: Any) -> dict[str, Any]:
    return {
        "key": "place",
        "title": "Place the order",
        "type": kind,
        "action_url": url,
        "timeout_seconds": 5,
        "input_transform": {"sku": "${data.item}", "ref": "tf-${ticket.id}"},
        "output_transform": {"order_id": {"$eval": "response.id"}},
        "output_schema": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
        **extra,
    }


def order_bundle(*tasks: dict[str, Any]) -> dict[str, Any]:
    keys = [task["key"] for task in tasks]
    return {
        "workflow": {
            "title": "Orders",
            "fields": [
                {"name": "item", "type": "text", "label": "Item", "required": True},
                {"name": "order_id", "type": "text", "label": "Order id"},
                {"name": "done", "type": "boolean", "label": "Done"},
            ],
            "tasks": list(tasks),
            "transitions": [{"from": None, "to": keys[0]}]
            + [{"from": a, "to": b} for a, b in itertools.pairwise(keys)],
        },
        "ticket_types": [{"title": "Order something", "fields": [{"field": "item"}]}],
    }


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant("Alpha Florists")


def submit(tenant: Tenant, *tasks: dict[str, Any]) -> TicketInstance:
    ticket_type = publish(tenant.designer, order_bundle(*tasks))
    return services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "Desk"})


def task_of(ticket: TicketInstance, key: str = "place") -> TaskInstance:
    return workflows.task_of(ticket, key)


def history(ticket: TicketInstance, kind: EventKind) -> list[TicketEvent]:
    with company_context(ticket.company):
        return list(TicketEvent.objects.filter(ticket=ticket, kind=kind).order_by("pk"))


def status_is(ticket: TicketInstance, status: str, key: str = "place") -> Any:
    return lambda: task_of(ticket, key).status == status


def test_a_sync_action_is_sent_signed_and_its_answer_moves_the_run(tenant: Tenant) -> None:
    with Endpoint(Reply(200, {"id": "S-1", "noise": True})) as endpoint, job_worker():
        ticket = submit(tenant, action(endpoint.url), form("check"))
        wait_until(status_is(ticket, TaskStatus.COMPLETED), what="the action to complete")
    (request,) = endpoint.received
    assert request.json() == {"sku": "Desk", "ref": f"tf-{ticket.pk}"}
    place = task_of(ticket)
    assert request.headers["Idempotency-Key"] == str(place.idempotency_key)
    secret = Company.unscoped.get(pk=tenant.company.pk).webhook_secret
    standardwebhooks.Webhook(secret).verify(request.body, request.headers)  # raises if the signature is wrong
    assert run_of(ticket).data == {"item": "Desk", "order_id": "S-1"}
    assert task_of(ticket, "check").status == TaskStatus.OPEN  # the run went on to the person's task
    (attempt,) = history(ticket, EventKind.ATTEMPT)
    assert attempt.details["status"] == 200 and attempt.details["attempt"] == 1


def test_a_server_error_is_tried_again_then_succeeds(tenant: Tenant) -> None:
    replies = [Reply(503, {"error": "busy"}, headers={"Retry-After": "0"}), Reply(200, {"id": "S-2"})]
    with Endpoint(*replies) as endpoint, job_worker():
        ticket = submit(tenant, action(endpoint.url))
        wait_until(status_is(ticket, TaskStatus.COMPLETED), what="the retried action")
    first, second = endpoint.received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # one message, tried twice
    attempts = history(ticket, EventKind.ATTEMPT)
    assert [a.details["status"] for a in attempts] == [503, 200]
    assert "retry_in" in attempts[0].details
    assert run_of(ticket).status == "COMPLETED"


def test_a_client_error_stops_in_error_and_an_admin_retry_succeeds(tenant: Tenant) -> None:
    replies = [Reply(422, {"error": "unknown sku"}), Reply(200, {"id": "S-3"})]
    with Endpoint(*replies) as endpoint, job_worker():
        ticket = submit(tenant, action(endpoint.url))
        wait_until(status_is(ticket, TaskStatus.ERROR), what="the action to fail")
        assert len(endpoint.received) == 1  # not tried again by itself
        assert "422" in task_of(ticket).error
        assert run_of(ticket).status == "ERROR"
        services.task_retry(actor=tenant.ticket_admin, task=task_of(ticket))
        wait_until(status_is(ticket, TaskStatus.COMPLETED), what="the retried action")
    assert run_of(ticket).data["order_id"] == "S-3"
    assert [e.kind for e in history(ticket, EventKind.RETRIED)] == [EventKind.RETRIED]


def test_giving_up_after_the_companys_attempt_limit(tenant: Tenant) -> None:
    Company.unscoped.filter(pk=tenant.company.pk).update(action_max_attempts=2)
    with Endpoint(Reply(500, {}, headers={"Retry-After": "0"})) as endpoint, job_worker():
        ticket = submit(tenant, action(endpoint.url))
        wait_until(status_is(ticket, TaskStatus.ERROR), what="the action to give up")
    assert len(endpoint.received) == 2
    assert "gave up after 2 tries" in task_of(ticket).error


def test_an_answer_that_does_not_fit_the_output_schema_is_an_error(tenant: Tenant) -> None:
    with Endpoint(Reply(200, {"id": 12})) as endpoint, job_worker():
        ticket = submit(tenant, action(endpoint.url))
        wait_until(status_is(ticket, TaskStatus.ERROR), what="the answer to be refused")
    assert "does not fit" in task_of(ticket).error
    assert "order_id" not in run_of(ticket).data


def test_a_refused_target_is_an_error_with_the_reason(tenant: Tenant, settings: Any) -> None:
    with job_worker(ACTIONS_ALLOW_LOOPBACK="false"):
        ticket = submit(tenant, action("http://127.0.0.1:9/hook"))
        wait_until(status_is(ticket, TaskStatus.ERROR), what="the target to be refused")
    assert "not a public address" in task_of(ticket).error


def callback_token_from(endpoint: Endpoint) -> str:
    url: str = endpoint.received[-1].json()["callback_url"]
    return url.rstrip("/").rsplit("/", 1)[1]


def test_an_async_action_waits_and_its_callback_completes_it_once(tenant: Tenant) -> None:
    with Endpoint(Reply(202, {"status": "queued"})) as endpoint, job_worker():
        ticket = submit(tenant, action(endpoint.url, "ASYNC_ACTION", timeout_seconds=3600), form("check"))
        wait_until(lambda: task_of(ticket).deadline_at is not None, what="the request to be sent")
    assert task_of(ticket).status == TaskStatus.IN_PROGRESS
    token = callback_token_from(endpoint)
    assert endpoint.received[0].json()["sku"] == "Desk"

    refused = services.callback_receive(token=token, body={"id": 5})
    assert refused.status == 400 and "order_id" in refused.errors
    assert task_of(ticket).status == TaskStatus.IN_PROGRESS  # still waiting

    assert services.callback_receive(token=token, body={"id": "A-1"}).status == 200
    assert run_of(ticket).data["order_id"] == "A-1"
    assert task_of(ticket, "check").status == TaskStatus.OPEN

    again = services.callback_receive(token=token, body={"id": "A-2"})
    assert again.status == 409 and "already completed" in again.detail
    assert run_of(ticket).data["order_id"] == "A-1"
    assert services.callback_receive(token="not-a-token", body={}).status == 404


def test_an_async_action_without_a_callback_in_time_stops_in_error(tenant: Tenant) -> None:
    with Endpoint(Reply(202, {})) as endpoint, job_worker():
        ticket = submit(tenant, action(endpoint.url, "ASYNC_ACTION", timeout_seconds=1))
        wait_until(status_is(ticket, TaskStatus.ERROR), what="the deadline to pass")
    assert task_of(ticket).error == "No callback within 1 s."
    late = services.callback_receive(token=callback_token_from(endpoint), body={"id": "late"})
    assert late.status == 410
    assert "order_id" not in run_of(ticket).data


def test_a_worker_killed_mid_request_is_recovered_and_the_task_completes_once(tenant: Tenant) -> None:
    replies = [Reply(200, {"id": "never-read"}, delay=60), Reply(200, {"id": "K-1"})]
    with Endpoint(*replies) as endpoint:
        with job_worker() as first:
            ticket = submit(tenant, action(endpoint.url), form("check"))
            assert endpoint.arrived.wait(30), "the first worker sent the request"
            kill_hard(first)
        assert task_of(ticket).status == TaskStatus.IN_PROGRESS  # stuck with the dead worker
        with job_worker():
            wait_until(status_is(ticket, TaskStatus.COMPLETED), timeout=60, what="recovery")
    first_try, second_try = endpoint.received
    assert first_try.headers["Idempotency-Key"] == second_try.headers["Idempotency-Key"]
    assert len(history(ticket, EventKind.TASK_COMPLETED)) == 1
    with company_context(tenant.company):
        assert TaskInstance.objects.filter(workflow_instance=ticket.workflow_instance_id).count() == 2
    assert run_of(ticket).data == {"item": "Desk", "order_id": "K-1"}


def test_an_automated_step_takes_at_most_twelve_sql_statements(tenant: Tenant) -> None:
    # The engine issue's budget; the bench (bench/engine.py) measures the same run for speed.
    steps = [action("", key=key, title=key) for key in ("one", "two", "three")]
    with Endpoint(Reply(200, {"id": "S-1"})) as endpoint:
        for step in steps:
            step["action_url"] = endpoint.url
        ticket = submit(tenant, *steps)
        with company_context(tenant.company), CaptureQueriesContext(connection) as queries:
            services.run_step(ticket.workflow_instance_id or 0)
    assert run_of(ticket).status == "COMPLETED"
    assert len(endpoint.received) == 3
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) <= 3 * 12, "\n".join(statements)
