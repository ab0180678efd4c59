"""The engine's API: every path, every error case, in the JSON error shape."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from tests.factories import bearer, make_api_token
from ticketflower.accounts.models import User
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.runtime import services
from ticketflower.runtime.models import TaskInstance, TaskStatus, TicketInstance
from ticketflower.runtime.tests.workflows import current, publish, review_bundle
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


class Api:
    """A client speaking JSON with one person's bearer token."""

    def __init__(self, client: Client, user: User | None) -> None:
        self.client = client
        self.headers = bearer(make_api_token(user)) if user else {}

    def get(self, name: str, *args: Any, **query: str) -> Any:
        return self.client.get(reverse(f"api:{name}", args=args), query, headers=self.headers)

    def post(self, name: str, *args: Any, body: Any = None) -> Any:
        return self.client.post(
            reverse(f"api:{name}", args=args),
            body if body is not None else {},
            content_type="application/json",
            headers=self.headers,
        )


def assert_error(response: Any, status: int, *fields: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["detail"]
    assert set(body["errors"]) == set(fields)


@pytest.fixture
def ticket_type(tenant_a: Tenant) -> ReleaseTicketType:
    return publish(tenant_a.designer, review_bundle())


def submitted(api: Api, ticket_type: ReleaseTicketType, **data: Any) -> Any:
    return api.post("tickets", body={"ticket_type": ticket_type.pk, "data": {"item": "Desk", **data}})


# --- tickets ------------------------------------------------------------------------------------


def test_submitting_answers_201_with_the_ticket_its_tasks_and_events(
    client: Client, tenant_a: Tenant, ticket_type: ReleaseTicketType
) -> None:
    response = submitted(Api(client, tenant_a.member), ticket_type, count=3)
    assert response.status_code == 201
    ticket = response.json()
    assert ticket["status"] == "IN_PROGRESS" and ticket["data"] == {
        "item": "Desk",
        "count": 3,
        "urgent": False,
    }
    (task,) = ticket["tasks"]
    assert task["key"] == "review" and task["status"] == "OPEN"
    assert task["assigned_to"] in (tenant_a.admin.email, tenant_a.worker.email)
    assert [e["kind"] for e in ticket["events"]] == ["submitted", "task_created", "assigned"]
    assert all(e["details"] == {} for e in ticket["events"])  # details are for ticket admins


def test_invalid_data_answers_400_by_field_and_writes_nothing(
    client: Client, tenant_a: Tenant, ticket_type: ReleaseTicketType
) -> None:
    api = Api(client, tenant_a.member)
    response = api.post("tickets", body={"ticket_type": ticket_type.pk, "data": {"count": "x", "extra": 1}})
    assert_error(response, 400, "data.item", "data.count", "data.extra")
    assert_error(api.post("tickets", body={"data": {}}), 400, "ticket_type")
    with company_context(tenant_a.company):
        assert not TicketInstance.objects.exists()


def test_a_type_that_is_not_mine_to_submit_is_404(
    client: Client, tenant_a: Tenant, tenant_b: Tenant, ticket_type: ReleaseTicketType
) -> None:
    theirs = publish(tenant_b.designer, review_bundle())
    assert_error(submitted(Api(client, tenant_a.member), theirs), 404)
    bundle = review_bundle(title="Restricted")
    bundle["ticket_types"][0]["title"] = "Restricted type"
    bundle["ticket_types"][0]["allowed_roles"] = [tenant_a.role.name]
    restricted = publish(tenant_a.designer, bundle)
    assert_error(submitted(Api(client, tenant_a.worker), restricted), 404)  # lacks the role
    assert submitted(Api(client, tenant_a.member), restricted).status_code == 201


def test_my_tickets_and_all_tickets_for_a_ticket_admin(
    client: Client, tenant_a: Tenant, ticket_type: ReleaseTicketType
) -> None:
    submitted(Api(client, tenant_a.member), ticket_type)
    submitted(Api(client, tenant_a.admin), ticket_type)
    mine = Api(client, tenant_a.member).get("tickets").json()
    assert mine["count"] == 1 and mine["results"][0]["submitted_by"] == tenant_a.member.email
    assert_error(Api(client, tenant_a.member).get("tickets", all="1"), 403)
    everything = Api(client, tenant_a.ticket_admin).get("tickets", all="1").json()
    assert everything["count"] == 2


def test_a_ticket_is_seen_by_its_submitter_and_ticket_admins_only(
    client: Client, tenant_a: Tenant, tenant_b: Tenant, ticket_type: ReleaseTicketType
) -> None:
    ticket_id = submitted(Api(client, tenant_a.member), ticket_type).json()["id"]
    assert Api(client, tenant_a.member).get("ticket", ticket_id).status_code == 200
    as_admin = Api(client, tenant_a.ticket_admin).get("ticket", ticket_id).json()
    assert any(e["details"] for e in as_admin["events"])  # the assignment names the worker
    assert_error(Api(client, tenant_a.worker).get("ticket", ticket_id), 404)
    assert_error(Api(client, tenant_b.ticket_admin).get("ticket", ticket_id), 404)


# --- tasks --------------------------------------------------------------------------------------


def first_task(client: Client, tenant: Tenant, ticket_type: ReleaseTicketType) -> tuple[TaskInstance, Api]:
    ticket_id = submitted(Api(client, tenant.member), ticket_type).json()["id"]
    with company_context(tenant.company):
        ticket = TicketInstance.objects.get(pk=ticket_id)
    task = current(ticket)
    assert task.assigned_to is not None
    return task, Api(client, task.assigned_to)


def test_a_worker_lists_starts_and_completes_a_task(
    client: Client, tenant_a: Tenant, ticket_type: ReleaseTicketType
) -> None:
    task, worker = first_task(client, tenant_a, ticket_type)
    listed = worker.get("tasks").json()
    assert [t["id"] for t in listed["results"]] == [task.pk]
    assert listed["results"][0]["input"] == {"item": "Desk"}
    assert worker.post("task-start", task.pk).json()["status"] == "IN_PROGRESS"
    done = worker.post("task-complete", task.pk, body={"output": {"approved": True}})
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED"
    assert_error(worker.post("task-start", task.pk), 404)  # finished: no longer among my tasks


def test_completing_with_a_bad_output_is_400_and_changes_nothing(
    client: Client, tenant_a: Tenant, ticket_type: ReleaseTicketType
) -> None:
    task, worker = first_task(client, tenant_a, ticket_type)
    assert_error(
        worker.post("task-complete", task.pk, body={"output": {"approved": "yes"}}), 400, "output.approved"
    )
    assert_error(worker.post("task-complete", task.pk, body={}), 400, "output")
    with company_context(tenant_a.company):
        assert TaskInstance.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_starting_twice_is_409_with_the_reason(
    client: Client, tenant_a: Tenant, ticket_type: ReleaseTicketType
) -> None:
    task, worker = first_task(client, tenant_a, ticket_type)
    worker.post("task-start", task.pk)
    response = worker.post("task-start", task.pk)
    assert_error(response, 409)
    assert "in progress" in response.json()["detail"]


def test_another_workers_or_companys_task_is_404(
    client: Client, tenant_a: Tenant, tenant_b: Tenant, ticket_type: ReleaseTicketType
) -> None:
    task, _ = first_task(client, tenant_a, ticket_type)
    other = tenant_a.worker if task.assigned_to == tenant_a.admin else tenant_a.admin
    for action in ("task-start", "task-complete", "task-release", "task-claim"):
        assert_error(Api(client, other).post(action, task.pk, body={"output": {}}), 404)
        assert_error(Api(client, tenant_b.worker).post(action, task.pk, body={"output": {}}), 404)


def test_release_puts_a_task_in_the_pool_and_another_worker_claims_it(
    client: Client, tenant_a: Tenant, ticket_type: ReleaseTicketType
) -> None:
    task, worker = first_task(client, tenant_a, ticket_type)
    other_user = tenant_a.worker if task.assigned_to == tenant_a.admin else tenant_a.admin
    other = Api(client, other_user)
    assert worker.post("task-release", task.pk).json()["assigned_to"] is None
    assert [t["id"] for t in other.get("pool").json()["results"]] == [task.pk]
    claimed = other.post("task-claim", task.pk)
    assert claimed.status_code == 200 and claimed.json()["assigned_to"] == other_user.email
    response = worker.post("task-claim", task.pk)
    assert_error(response, 409)
    assert "already taken" in response.json()["detail"]
    assert other.get("pool").json()["results"] == []


# --- callbacks ----------------------------------------------------------------------------------


def test_a_callback_needs_no_bearer_token_and_an_unknown_one_is_404(client: Client, tenant_a: Tenant) -> None:
    response = Api(client, None).post("callback", "no-such-token", body={"id": "x"})
    assert_error(response, 404)


def test_a_callback_completes_its_task_once(client: Client, tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0] = {
        "key": "review",
        "title": "Review",
        "type": "ASYNC_ACTION",
        "action_url": "https://reviews.example.com/hook",
        "timeout_seconds": 600,
        "output_transform": {"approved": {"$eval": "response.ok"}},
        "output_schema": {
            "type": "object",
            "properties": {"approved": {"type": "boolean"}},
            "required": ["approved"],
        },
    }
    ticket_type = publish(tenant_a.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    task = current(ticket)
    with company_context(tenant_a.company):  # as if the job had sent the request
        TaskInstance.objects.filter(pk=task.pk).update(
            status=TaskStatus.IN_PROGRESS,
            callback_token_hash=services.token_hash(services.callback_token(task)),
        )
    outsider = Api(client, None)
    token = services.callback_token(task)
    assert_error(outsider.post("callback", token, body={"ok": "maybe"}), 400, "approved")
    accepted = outsider.post("callback", token, body={"ok": True})
    assert accepted.status_code == 200 and accepted.json()["errors"] == {}
    assert current(ticket).task_key == "order"
    again = outsider.post("callback", token, body={"ok": False})
    assert_error(again, 409)
    assert "already completed" in again.json()["detail"]
    assert_error(
        client.post(reverse("api:callback", args=[token]), "not json", content_type="application/json"), 400
    )


@pytest.mark.parametrize(
    "body",
    [
        '{"ticket_type": 1, "data": {"item": "a\\u0000b"}}',
        '{"ticket_type": 1, "data": {"item": "\\ud800"}}',
        '{"ticket_type": 1, "data": {"item": NaN}}',
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["nul", "lone surrogate", "nan", "deep"],
)
def test_json_the_database_cannot_hold_is_a_400(client: Client, tenant_a: Tenant, body: str) -> None:
    api = Api(client, tenant_a.member)
    response = client.post(reverse("api:tickets"), body, content_type="application/json", headers=api.headers)
    assert_error(response, 400)


def test_a_deep_callback_body_is_a_400_before_its_token_is_looked_at(client: Client) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(reverse("api:callback", args=["x"]), body, content_type="application/json")
    assert_error(response, 400)
