"""The ticket admin site: a ticket's page, holding, resuming, cancelling, rerouting, retrying, skipping."""

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from conftest import Tenant
from ticketflower.runtime import services
from ticketflower.runtime.models import (
    EventKind,
    TaskInstance,
    TaskStatus,
    TicketEvent,
    TicketInstance,
    WorkflowStatus,
)
from ticketflower.runtime.tests.workflows import current, publish, review_bundle, tasks_of
from ticketflower.tenancy.context import company_context

from .work import action_in_error, review_ticket, run_of, task_now, to_pool

pytestmark = pytest.mark.django_db


def said(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def ticket_page(ticket: TicketInstance, archived: bool = False) -> str:
    kind = "archived" if archived else "active"
    return reverse(f"tickets:runtime_{kind}ticket_change", args=[ticket.pk])


def action_url(ticket: TicketInstance, name: str, archived: bool = False) -> str:
    kind = "archived" if archived else "active"
    return reverse(f"tickets:runtime_{kind}ticket_{name}_detail", args=[ticket.pk])


def task_action_url(task: TaskInstance, name: str) -> str:
    return reverse(f"tickets:runtime_activetask_{name}_detail", args=[task.pk])


def status_of(ticket: TicketInstance) -> str:
    return run_of(ticket).status


def detail_actions(page: Any) -> list[str]:
    return [str(a["title"]) for a in page.context["actions_detail"]]


def history(ticket: TicketInstance) -> list[tuple[str, str]]:
    with company_context(ticket.company):
        return list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", "message"))


# --- the ticket's page --------------------------------------------------------------------------


def test_the_ticket_page_shows_data_by_label_tasks_and_history(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    page = client.get(ticket_page(ticket))
    assert page.status_code == 200
    assert ("Item", "Desk") in page.context["data_rows"] and ("How many", "2") in page.context["data_rows"]
    [row] = page.context["task_rows"]
    assert (row["task"].title, row["who"], row["retry_url"]) == ("Review", str(tenant_a.worker), "")
    assert [event["what"] for event in page.context["history"]] == [
        "Submitted",
        "Task created: Review",
        "Assigned: Review",
    ]
    assert "In progress — Review" in page.text


def test_a_stopped_ticket_shows_why_its_attempts_and_retry_and_skip(client: Client, tenant_a: Tenant) -> None:
    task = action_in_error(tenant_a)
    ticket = task.workflow_instance.ticket
    client.force_login(tenant_a.ticket_admin)
    page = client.get(ticket_page(ticket))
    assert "Needs attention — Order: HTTP 503 (gave up after 3 tries)" in page.text
    row = page.context["task_rows"][-1]
    assert row["who"] == "TicketFlower (automatic)" and row["task"].attempts == 3
    assert row["retry_url"] == task_action_url(task, "retry") and row["skip_url"] == task_action_url(
        task, "skip"
    )
    attempts = [e["attempt"] for e in page.context["history"] if e["attempt"]]
    assert attempts == [
        "Try 1: HTTP 503 in 120 ms; HTTP 503; retry in 2.0 s",
        "Try 2: HTTP 503 in 120 ms; HTTP 503; retry in 4.0 s",
        "Try 3: HTTP 503 in 120 ms; HTTP 503",
    ]


def test_buttons_show_only_where_they_apply(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    assert detail_actions(client.get(ticket_page(ticket))) == ["Put on hold", "Cancel"]
    services.ticket_hold(actor=tenant_a.ticket_admin, ticket=ticket)
    assert detail_actions(client.get(ticket_page(ticket))) == ["Resume", "Cancel"]
    stopped = action_in_error(tenant_a).workflow_instance.ticket
    assert detail_actions(client.get(ticket_page(stopped))) == ["Cancel"]  # retry/skip are the task's


# --- hold, resume, cancel -----------------------------------------------------------------------


def test_hold_asks_for_a_note_then_holds_the_ticket(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    confirm = client.get(action_url(ticket, "hold"))
    assert confirm.status_code == 200 and "note" in confirm.context["note_form"].fields
    assert status_of(ticket) == WorkflowStatus.IN_PROGRESS  # a GET changes nothing
    response = client.post(action_url(ticket, "hold"), {"note": "Waiting for the budget"})
    assert response.status_code == 302 and response["Location"] == ticket_page(ticket)
    assert said(response) == ["The ticket is on hold."]
    assert status_of(ticket) == WorkflowStatus.ON_HOLD
    assert history(ticket)[-1] == (EventKind.HELD, "Waiting for the budget")


def test_holding_a_held_ticket_says_why_nothing_happened(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    services.ticket_hold(actor=tenant_a.ticket_admin, ticket=ticket)
    client.force_login(tenant_a.ticket_admin)
    response = client.post(action_url(ticket, "hold"), {"note": "again"})
    assert said(response) == ["The ticket is on hold, so this does not apply."]
    assert [kind for kind, _ in history(ticket)].count(EventKind.HELD) == 1


def test_a_note_too_long_is_a_field_error(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    response = client.post(action_url(ticket, "hold"), {"note": "x" * 2001})
    assert response.status_code == 200 and "note" in response.context["note_form"].errors
    assert status_of(ticket) == WorkflowStatus.IN_PROGRESS


def test_resume_goes_on(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    services.ticket_hold(actor=tenant_a.ticket_admin, ticket=ticket)
    client.force_login(tenant_a.ticket_admin)
    assert "Resume this ticket?" in client.get(action_url(ticket, "resume")).text
    response = client.post(action_url(ticket, "resume"))
    assert said(response) == ["The ticket goes on."]
    assert status_of(ticket) == WorkflowStatus.IN_PROGRESS


def test_resuming_a_running_ticket_says_why_nothing_happened(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    response = client.post(action_url(ticket, "resume"))
    assert said(response) == ["The ticket is in progress, so this does not apply."]


def test_cancel_with_a_note_stops_the_ticket_and_opens_it_in_the_archive(
    client: Client, tenant_a: Tenant
) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    response = client.post(action_url(ticket, "cancel"), {"note": "Bought elsewhere"})
    assert response["Location"] == ticket_page(ticket, archived=True)
    assert said(response) == ["The ticket is cancelled."]
    assert status_of(ticket) == WorkflowStatus.CANCELLED and current(ticket).status == TaskStatus.CANCELLED
    assert history(ticket)[-1] == (EventKind.CANCELLED, "Bought elsewhere")
    assert client.get(ticket_page(ticket, archived=True)).status_code == 200


def test_cancelling_a_cancelled_ticket_says_why_nothing_happened(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    services.ticket_cancel(actor=tenant_a.ticket_admin, ticket=ticket)
    client.force_login(tenant_a.ticket_admin)
    assert client.post(action_url(ticket, "cancel")).status_code == 404  # no longer an active ticket
    response = client.post(action_url(ticket, "cancel", archived=True))
    assert said(response) == ["The ticket is cancelled, so this does not apply."]


# --- reroute ------------------------------------------------------------------------------------


def stopped_after_review(tenant: Tenant) -> TicketInstance:
    """A ticket whose run found no way on after "review" (rejected, but not urgent)."""
    bundle = review_bundle(title="Strict review", ticket_type="Ask strictly")
    bundle["workflow"]["transitions"][2]["condition"] = "data.approved == false && data.urgent"
    ticket_type = publish(tenant.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "x"})
    task = current(ticket)
    worker = task.assigned_to
    assert worker is not None
    services.task_complete(worker=worker, task=task, output={"approved": False})
    assert status_of(ticket) == WorkflowStatus.ERROR
    return ticket


def test_reroute_shows_only_after_a_completed_task_and_says_when_there_is_still_no_way(
    client: Client, tenant_a: Tenant
) -> None:
    ticket = stopped_after_review(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    assert detail_actions(client.get(ticket_page(ticket))) == ["Cancel", "Look for the way on"]
    confirm = client.get(action_url(ticket, "reroute"))
    assert "No transition matched after Review" in confirm.text
    response = client.post(action_url(ticket, "reroute"))
    assert said(response) == ["Still no way on: No transition matched after Review."]
    assert [kind for kind, _ in history(ticket)][-2:] == [EventKind.RETRIED, EventKind.ERROR]


def test_reroute_on_a_running_ticket_says_why_nothing_happened(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    response = client.post(action_url(ticket, "reroute"))
    assert said(response) == ["Only a ticket stopped after a completed task can look for its way on again."]
    assert status_of(ticket) == WorkflowStatus.IN_PROGRESS


# --- retry and skip -----------------------------------------------------------------------------


def test_retry_asks_first_then_tries_the_action_again(client: Client, tenant_a: Tenant) -> None:
    task = action_in_error(tenant_a)
    ticket = task.workflow_instance.ticket
    client.force_login(tenant_a.ticket_admin)
    confirm = client.get(task_action_url(task, "retry"))
    assert "HTTP 503 (gave up after 3 tries)" in confirm.text
    jobs_before = ProcrastinateJob.objects.filter(task_name="runtime.run_step").count()
    response = client.post(task_action_url(task, "retry"))
    assert response["Location"] == ticket_page(ticket)
    assert said(response) == ["“Order” is tried again."]
    retried = task_now(task)
    assert (retried.status, retried.attempts, retried.error) == (TaskStatus.PENDING, 0, "")
    assert status_of(ticket) == WorkflowStatus.IN_PROGRESS
    assert ProcrastinateJob.objects.filter(task_name="runtime.run_step").count() == jobs_before + 1


def test_retrying_a_task_not_in_error_says_why(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    client.force_login(tenant_a.ticket_admin)
    response = client.post(task_action_url(task, "retry"))
    assert said(response) == ["“Review” is open now, so this does not apply."]
    assert task_now(task).status == TaskStatus.OPEN


def test_skip_checks_the_output_and_then_moves_the_ticket_on(client: Client, tenant_a: Tenant) -> None:
    task = action_in_error(tenant_a)
    ticket = task.workflow_instance.ticket
    client.force_login(tenant_a.ticket_admin)
    form = client.get(task_action_url(task, "skip"))
    assert form.status_code == 200 and set(form.context["form"].fields) == {"order_number"}
    too_long = client.post(task_action_url(task, "skip"), {"order_number": "x" * 1001})
    assert too_long.status_code == 200 and "order_number" in too_long.context["form"].errors
    assert task_now(task).status == TaskStatus.ERROR
    response = client.post(task_action_url(task, "skip"), {"order_number": "PO-1"})
    assert response["Location"] == ticket_page(ticket, archived=True)  # "order" was the last task
    assert said(response) == ["“Order” is skipped; the ticket goes on."]
    assert task_now(task).status == TaskStatus.COMPLETED and status_of(ticket) == WorkflowStatus.COMPLETED
    assert run_of(ticket).data["order_number"] == "PO-1"
    assert (EventKind.SKIPPED, "Order") in history(ticket)


def test_a_skip_the_schema_refuses_shows_the_services_errors_on_the_form(
    client: Client, tenant_a: Tenant
) -> None:
    task = action_in_error(tenant_a, order_number={"type": "string", "pattern": "^PO-"})
    client.force_login(tenant_a.ticket_admin)
    response = client.post(task_action_url(task, "skip"), {"order_number": "12"})
    assert response.status_code == 200
    assert response.context["form"].errors["order_number"]  # the schema's error, on its field
    assert task_now(task).status == TaskStatus.ERROR


def test_skipping_a_task_not_in_error_says_why(client: Client, tenant_a: Tenant) -> None:
    task = current(review_ticket(tenant_a))
    client.force_login(tenant_a.ticket_admin)
    response = client.post(task_action_url(task, "skip"), {"approved": "true"})
    assert said(response) == ["“Review” is open now, so this does not apply."]
    assert task_now(task).status == TaskStatus.OPEN


# --- the task lists and other companies -----------------------------------------------------------


def test_the_waiting_filter_shows_tasks_nobody_has_yet(client: Client, tenant_a: Tenant) -> None:
    pooled = to_pool(current(review_ticket(tenant_a)))
    assigned = current(review_ticket(tenant_a))
    waiting = current(review_ticket(tenant_a))
    with company_context(tenant_a.company):
        TaskInstance.objects.filter(pk=waiting.pk).update(status=TaskStatus.PENDING, assigned_to=None)
    client.force_login(tenant_a.ticket_admin)
    url = reverse("tickets:runtime_activetask_changelist")

    def shown(query: str) -> set[int]:
        page = client.get(f"{url}?{query}")
        with company_context(tenant_a.company):
            return {task.pk for task in page.context["cl"].result_list}

    assert shown("waiting=any") == {pooled.pk, waiting.pk}
    assert shown("waiting=pool") == {pooled.pk}
    assert shown("waiting=auto") == {waiting.pk}
    assert assigned.pk in shown("")
    page = client.get(f"{url}?waiting=any")
    assert "In the pool" in page.text and "Waiting for a worker" in page.text


def test_the_task_list_shows_the_error_of_a_task_in_error(client: Client, tenant_a: Tenant) -> None:
    action_in_error(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    page = client.get(reverse("tickets:runtime_activetask_changelist") + "?status=ERROR")
    assert "HTTP 503 (gave up after 3 tries)" in page.text


def test_another_companys_ticket_and_tasks_are_not_found(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    ticket = review_ticket(tenant_a)
    task = action_in_error(tenant_a)
    client.force_login(tenant_b.ticket_admin)
    urls = [
        ticket_page(ticket),
        *(action_url(ticket, name) for name in ["hold", "resume", "cancel", "reroute"]),
    ]
    urls += [task_action_url(task, "retry"), task_action_url(task, "skip")]
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"note": "x", "order_number": "PO-1"}).status_code == 404, url
    assert status_of(ticket) == WorkflowStatus.IN_PROGRESS
    assert task_now(task).status == TaskStatus.ERROR


def test_a_worker_cannot_use_the_ticket_admin_site(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    client.force_login(tenant_a.worker)
    assert client.post(action_url(ticket, "hold")).status_code == 404
    assert status_of(ticket) == WorkflowStatus.IN_PROGRESS
    assert len(tasks_of(ticket)) == 1


def test_history_shows_the_tickets_events_on_its_page(client: Client, tenant_a: Tenant) -> None:
    """The admin's change log holds nothing of tickets: History goes to the ticket's own history."""
    ticket = review_ticket(tenant_a)
    task = current(ticket)
    client.force_login(tenant_a.ticket_admin)
    for url in (
        reverse("tickets:runtime_activeticket_history", args=[ticket.pk]),
        reverse("tickets:runtime_activetask_history", args=[task.pk]),
    ):
        moved = client.get(url)
        assert (moved.status_code, moved["Location"]) == (302, ticket_page(ticket) + "#history"), url
    assert 'id="history"' in client.get(ticket_page(ticket)).content.decode()
