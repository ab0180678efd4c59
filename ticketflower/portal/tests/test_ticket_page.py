"""One ticket's page: who may open it, what its submitter reads, and what stays for ticket admins."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import Tenant
from ticketflower.portal.tests.helpers import add_event, every_kind_bundle, publish_review, set_run, submit
from ticketflower.runtime.models import EventKind, TicketInstance, WorkflowStatus
from ticketflower.runtime.tests.workflows import current, publish
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def url(ticket: TicketInstance) -> str:
    return reverse("portal:ticket", args=[ticket.pk])


def assignee(ticket: TicketInstance) -> str:
    with company_context(ticket.company):
        return str(current(ticket).assigned_to)


@pytest.fixture
def ticket(tenant_a: Tenant) -> TicketInstance:
    return submit(tenant_a.member, publish_review(tenant_a.designer), item="Laptop", count=2)


def test_the_submitter_sees_the_ticket(client: Client, tenant_a: Tenant, ticket: TicketInstance) -> None:
    client.force_login(tenant_a.member)
    page = client.get(url(ticket))
    assert page.status_code == 200
    assert f"Ask for something #{ticket.pk}" in page.text
    assert "What you asked" in page.text


def test_a_ticket_admin_of_the_company_sees_it_with_its_submitter(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    client.force_login(tenant_a.ticket_admin)
    page = client.get(url(ticket))
    assert page.status_code == 200
    assert "Submitted by" in page.text and tenant_a.member.email in page.text


def test_a_colleague_without_the_ticket_admin_role_finds_nothing(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    for colleague in [tenant_a.designer, tenant_a.worker]:  # the worker even works on it
        client.force_login(colleague)
        assert client.get(url(ticket)).status_code == 404
        assert client.get(reverse("portal:submitted", args=[ticket.pk])).status_code == 404


def test_another_companys_people_find_nothing(
    client: Client, tenant_b: Tenant, ticket: TicketInstance
) -> None:
    for person in [tenant_b.admin, tenant_b.ticket_admin, tenant_b.member]:
        client.force_login(person)
        assert client.get(url(ticket)).status_code == 404
        assert client.get(reverse("portal:submitted", args=[ticket.pk])).status_code == 404


def test_only_the_submitter_gets_the_confirmation_page(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    client.force_login(tenant_a.ticket_admin)
    assert client.get(reverse("portal:submitted", args=[ticket.pk])).status_code == 404
    client.force_login(tenant_a.member)
    assert client.get(reverse("portal:submitted", args=[ticket.pk])).status_code == 200


def test_strangers_are_sent_to_log_in(client: Client, ticket: TicketInstance) -> None:
    response = client.get(url(ticket))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_answers_read_with_their_labels_and_in_words(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, every_kind_bundle())
    ticket = submit(
        tenant_a.member,
        ticket_type,
        summary="New chair",
        details="Mine squeaks.\nLoudly.",
        urgent=False,
        needed_by="2026-01-31",
        tags=["red", "blue"],
        site="https://shop.example.com/chair",
    )
    client.force_login(tenant_a.member)

    answers = {a.label: a for a in client.get(url(ticket)).context["view"].answers}
    page = client.get(url(ticket)).text

    assert list(answers) == ["Summary", "Details", "Urgent", "Needed by", "Tags", "Web page"]  # no preset
    assert answers["Urgent"].text == "No"
    assert answers["Needed by"].text == "Jan. 31, 2026"
    assert answers["Tags"].items == ("red", "blue")
    assert "Mine squeaks.<br>Loudly." in page
    assert 'href="https://shop.example.com/chair"' in page
    assert "Front desk 7" not in page  # the preset's value is not the submitter's answer


def test_where_the_work_stands_names_each_task_its_status_and_who(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    client.force_login(tenant_a.member)
    [task] = client.get(url(ticket)).context["view"].tasks
    assert (task.title, task.status, task.who) == ("Review", "Open", assignee(ticket))
    assert task.when_label == "Assigned" and task.when is not None


def test_the_submitter_reads_the_history_without_the_workings(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    add_event(
        ticket, EventKind.ATTEMPT, "Answered 503 from https://hooks.internal.example/x", attempt=1, status=503
    )
    add_event(ticket, EventKind.SAVED, "draft")
    add_event(ticket, EventKind.CALLBACK, "Refused: bad body")
    add_event(ticket, EventKind.ERROR, "jsonschema: 'order_number' is a required property")
    client.force_login(tenant_a.member)

    page = client.get(url(ticket))

    seen = [(entry.what, entry.message) for entry in page.context["view"].history]
    assert seen == [
        ("Submitted", ""),
        ("Task created", "Review"),
        ("Assigned", assignee(ticket)),
        ("Error", "Something went wrong; the ticket team has been told."),
    ]
    for internal in ["hooks.internal.example", "503", "Refused", "jsonschema", "draft"]:
        assert internal not in page.text, internal


def test_a_ticket_admin_reads_the_whole_history(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    add_event(ticket, EventKind.ATTEMPT, "Answered 503.", attempt=1, status=503, ms=12, retry_in=4.0)
    client.force_login(tenant_a.ticket_admin)

    history = client.get(url(ticket)).context["view"].history

    assert (history[-1].what, history[-1].message) == (
        "Action attempt",
        "Answered 503. · try 1, HTTP 503, 12 ms, next try in 4.0 s",
    )


def test_a_ticket_that_needs_attention_says_so_in_a_submitters_words(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    set_run(ticket, WorkflowStatus.ERROR, "No transition matched after Review.")
    client.force_login(tenant_a.member)
    page = client.get(url(ticket))
    assert "Needs attention" in page.text
    assert "The ticket team has been told and will pick it up" in page.text
    assert "No transition matched" not in page.text

    client.force_login(tenant_a.ticket_admin)
    page = client.get(url(ticket))
    assert "No transition matched after Review." in page.text


def test_the_page_takes_a_fixed_number_of_queries(
    client: Client, tenant_a: Tenant, ticket: TicketInstance
) -> None:
    client.force_login(tenant_a.member)
    with CaptureQueriesContext(connection) as few:
        client.get(url(ticket))
    for n in range(10):
        add_event(ticket, EventKind.STARTED, f"step {n}")
    with CaptureQueriesContext(connection) as more:
        client.get(url(ticket))
    assert len(few) == len(more) <= 8
