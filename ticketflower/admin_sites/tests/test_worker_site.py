"""The worker site: a worker's own tasks, the page to do one, and the pool."""

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import Tenant
from tests.factories import make_company_role, make_user
from ticketflower.runtime.models import (
    EventKind,
    TaskInstance,
    TaskStatus,
    TicketEvent,
    WorkflowInstance,
    WorkflowStatus,
)
from ticketflower.runtime.selectors import pool_tasks
from ticketflower.runtime.tests.workflows import current
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import SystemRole

from .work import INSTRUCTIONS, give, review_ticket, task_now, to_pool

pytestmark = pytest.mark.django_db


def said(response: object) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


def rows(page: Any) -> list[int]:
    """The ids a list page shows."""
    with company_context(page.wsgi_request.user.company):
        return [row.pk for row in page.context["cl"].result_list]


def page_url(task: TaskInstance) -> str:
    return reverse("worker:runtime_mytask_change", args=[task.pk])


MY_TASKS = "/worker/runtime/mytask/"
POOL = "/worker/runtime/pooltask/"


# --- my tasks -----------------------------------------------------------------------------------


def test_my_tasks_lists_the_workers_tasks_with_ticket_workflow_and_status(
    client: Client, tenant_a: Tenant
) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.worker)
    page = client.get(MY_TASKS)
    assert page.status_code == 200
    assert rows(page) == [current(ticket).pk]
    for text in ["Review", str(ticket), "Review", "Open"]:
        assert text in page.text


def test_action_tasks_are_never_on_the_worker_site(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    with company_context(tenant_a.company):
        TaskInstance.objects.filter(pk=task.pk).update(task_type="SYNC_ACTION")
    client.force_login(tenant_a.worker)
    assert rows(client.get(MY_TASKS)) == []
    assert client.get(page_url(task)).status_code == 404


def test_the_task_page_shows_instructions_input_by_label_and_the_ticket(
    client: Client, tenant_a: Tenant
) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.worker)
    page = client.get(page_url(current(ticket)))
    assert page.status_code == 200
    assert "Check the item against the budget." in page.text
    assert '<a class="text-primary-600 underline" href="https://intranet.test/budget"' in page.text
    assert 'href="javascript:' not in page.text  # shown as text, never a link
    assert page.context["input_rows"] == [("Item", "Desk")]  # the field's label, only what it reads
    assert str(ticket) in page.text and tenant_a.member.email in page.text
    assert set(page.context["form"].fields) == {"approved"}


def test_start_marks_the_task_in_progress(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    client.force_login(tenant_a.worker)
    response = client.post(page_url(task), {"_action": "start"})
    assert response.status_code == 302
    assert task_now(task).status == TaskStatus.IN_PROGRESS
    assert client.get(page_url(task)).context["may_start"] is False  # no Start button any more


def test_save_keeps_a_draft_even_with_required_fields_empty(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    client.force_login(tenant_a.worker)
    assert client.post(page_url(task), {"_action": "save"}).status_code == 302
    assert (task_now(task).status, task_now(task).output_data) == (TaskStatus.IN_PROGRESS, {})
    client.post(page_url(task), {"_action": "save", "approved": "false"})
    assert task_now(task).output_data == {"approved": False}
    # The saved draft fills the form again.
    assert client.get(page_url(task)).context["form"].initial == {"approved": "false"}


def test_completing_without_a_required_answer_shows_the_field_error_and_changes_nothing(
    client: Client, tenant_a: Tenant
) -> None:
    task = current(review_ticket(tenant_a))
    client.force_login(tenant_a.worker)
    response = client.post(page_url(task), {"_action": "complete"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"approved": ["This field is required."]}
    assert task_now(task).status == TaskStatus.OPEN


def test_completing_moves_the_ticket_on_and_goes_back_to_the_list(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    task = current(ticket)
    client.force_login(tenant_a.worker)
    response = client.post(page_url(task), {"_action": "complete", "approved": "true"})
    assert response.status_code == 302 and response["Location"] == MY_TASKS
    assert said(response) == ["“Review” is completed."]
    assert task_now(task).status == TaskStatus.COMPLETED
    assert current(ticket).task_key == "order"


def test_completing_on_a_held_ticket_says_why_and_keeps_the_answer(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    task = current(ticket)
    with company_context(tenant_a.company):
        WorkflowInstance.objects.filter(pk=ticket.workflow_instance_id).update(status=WorkflowStatus.ON_HOLD)
    client.force_login(tenant_a.worker)
    response = client.post(page_url(task), {"_action": "complete", "approved": "true"})
    assert response.status_code == 200
    assert said(response) == ["The ticket is on hold, so its tasks wait."]
    assert response.context["form"]["approved"].value() == "true"
    assert task_now(task).status == TaskStatus.OPEN
    assert "The ticket is on hold" in client.get(page_url(task)).text


def test_release_asks_first_then_puts_the_task_in_the_pool(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    url = reverse("worker:runtime_mytask_release", args=[task.pk])
    client.force_login(tenant_a.worker)
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Give this task back?" in confirm.text
    assert task_now(task).assigned_to_id == tenant_a.worker.pk  # a GET changes nothing
    response = client.post(url)
    assert response.status_code == 302 and said(response) == ["“Review” is back in the pool."]
    released = task_now(task)
    assert (released.status, released.assigned_to_id, released.assignment) == ("PENDING", None, "pool")


def test_a_wrong_state_is_said_not_done(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    client.force_login(tenant_a.worker)
    client.post(page_url(task), {"_action": "start"}, follow=True)  # its message shown
    response = client.post(page_url(task), {"_action": "start"})
    assert said(response) == ["“Review” is in progress now, so this does not apply."]


def test_a_worker_cannot_open_or_act_on_another_workers_task(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a, worker=tenant_a.admin))
    client.force_login(tenant_a.worker)
    assert client.get(page_url(task)).status_code == 404
    assert client.post(page_url(task), {"_action": "complete", "approved": "true"}).status_code == 404
    assert client.post(reverse("worker:runtime_mytask_release", args=[task.pk])).status_code == 404
    assert task_now(task).status == TaskStatus.OPEN


def test_another_companys_task_is_not_found(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    client.force_login(tenant_b.worker)
    for url in [page_url(task), reverse("worker:runtime_mytask_release", args=[task.pk])]:
        assert client.get(url).status_code == 404
        assert client.post(url, {"_action": "complete", "approved": "true"}).status_code == 404
    assert task_now(task).status == TaskStatus.OPEN


# --- the pool -----------------------------------------------------------------------------------


def test_the_pool_lists_claimable_tasks_oldest_first_with_a_claim_button(
    client: Client, tenant_a: Tenant
) -> None:
    older = to_pool(current(review_ticket(tenant_a)))
    newer = to_pool(current(review_ticket(tenant_a)))
    give(current(review_ticket(tenant_a)), tenant_a.admin)  # someone's: not in the pool
    client.force_login(tenant_a.worker)
    page = client.get(POOL)
    assert rows(page) == [older.pk, newer.pk]
    claim = reverse("worker:runtime_pooltask_claim", args=[older.pk])
    assert f'form="claim-form" formaction="{claim}"' in page.text
    assert '<form id="claim-form" method="post" hidden>' in page.text


def test_the_pool_is_one_query_however_many_tasks(tenant_a: Tenant) -> None:
    role = make_company_role(tenant_a.company, "Buyers")
    for _ in range(3):
        to_pool(current(review_ticket(tenant_a)), role=role)
    worker = make_user(tenant_a.company, roles=[SystemRole.TASK_WORKER], company_roles=[role])
    assert worker.has_system_role(SystemRole.TASK_WORKER)  # read (and cached) before counting
    with company_context(tenant_a.company), CaptureQueriesContext(connection) as queries:
        found = list(pool_tasks(worker))
        titles = [(t.workflow_instance.ticket.ticket_type.title, t.worker_role.name) for t in found]  # type: ignore[union-attr]
    assert len(found) == 3 and titles[0] == ("Ask for something", "Buyers")
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_a_worker_without_the_tasks_role_neither_sees_nor_claims_it(client: Client, tenant_a: Tenant) -> None:
    role = make_company_role(tenant_a.company, "Buyers")
    task = to_pool(current(review_ticket(tenant_a)), role=role)
    client.force_login(tenant_a.worker)  # not a buyer
    assert rows(client.get(POOL)) == []
    assert client.get(reverse("worker:runtime_pooltask_change", args=[task.pk])).status_code == 404
    assert client.post(reverse("worker:runtime_pooltask_claim", args=[task.pk])).status_code == 404
    assert task_now(task).assigned_to_id is None
    buyer = make_user(tenant_a.company, roles=[SystemRole.TASK_WORKER], company_roles=[role])
    client.force_login(buyer)
    assert rows(client.get(POOL)) == [task.pk]


def test_claiming_makes_the_task_yours_and_opens_it(client: Client, tenant_a: Tenant) -> None:
    task = to_pool(current(review_ticket(tenant_a)))
    client.force_login(tenant_a.worker)
    look = client.get(reverse("worker:runtime_pooltask_change", args=[task.pk]))
    assert (
        look.status_code == 200 and INSTRUCTIONS.splitlines()[0] in look.text and "form" not in look.context
    )
    response = client.post(reverse("worker:runtime_pooltask_claim", args=[task.pk]))
    assert response.status_code == 302 and response["Location"] == page_url(task)
    assert said(response) == ["“Review” is yours now."]
    claimed = task_now(task)
    assert (claimed.status, claimed.assigned_to_id) == (TaskStatus.OPEN, tenant_a.worker.pk)
    with company_context(tenant_a.company):
        assert TicketEvent.objects.filter(task=task, kind=EventKind.CLAIMED, actor=tenant_a.worker).exists()


def test_a_claim_that_came_second_is_told_the_task_was_taken(client: Client, tenant_a: Tenant) -> None:
    task = to_pool(current(review_ticket(tenant_a)))
    url = reverse("worker:runtime_pooltask_claim", args=[task.pk])
    first = Client()
    first.force_login(tenant_a.admin)
    first.post(url)
    client.force_login(tenant_a.worker)
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == POOL
    assert said(response) == ["“Review” was already taken."]
    assert task_now(task).assigned_to_id == tenant_a.admin.pk


def test_a_get_of_the_claim_url_claims_nothing(client: Client, tenant_a: Tenant) -> None:
    task = to_pool(current(review_ticket(tenant_a)))
    client.force_login(tenant_a.worker)
    response = client.get(reverse("worker:runtime_pooltask_claim", args=[task.pk]))
    assert response.status_code == 302
    assert task_now(task).assigned_to_id is None


def test_an_unavailable_worker_sees_an_empty_pool_and_why(client: Client, tenant_a: Tenant) -> None:
    to_pool(current(review_ticket(tenant_a)))
    with company_context(tenant_a.company):
        type(tenant_a.worker).objects.filter(pk=tenant_a.worker.pk).update(is_available=False)
    client.force_login(tenant_a.worker)
    page = client.get(POOL)
    assert rows(page) == []
    assert "You are marked as not available for new tasks" in page.text


def test_another_companys_pool_task_is_not_found(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    task = to_pool(current(review_ticket(tenant_a)))
    client.force_login(tenant_b.worker)
    assert rows(client.get(POOL)) == []
    assert client.get(reverse("worker:runtime_pooltask_change", args=[task.pk])).status_code == 404
    assert client.post(reverse("worker:runtime_pooltask_claim", args=[task.pk])).status_code == 404
    assert task_now(task).assigned_to_id is None


def test_the_dashboard_counts_my_tasks_and_the_pool(client: Client, tenant_a: Tenant) -> None:
    review_ticket(tenant_a)
    to_pool(current(review_ticket(tenant_a)))
    to_pool(current(review_ticket(tenant_a)))
    client.force_login(tenant_a.worker)
    stats = dict(client.get("/worker/").context["stats"])
    assert (stats["My open tasks"], stats["Open tasks in the pool"]) == (1, 2)
