"""What keeps the big lists flat, one piece at a time (tests/test_list_scale.py checks them at scale)."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings

from conftest import Tenant
from tests.factories import bearer, make_api_token
from ticketflower.accounts.models import User
from ticketflower.admin_sites.tests.work import review_ticket, task_now
from ticketflower.core.paging import CappedPaginator
from ticketflower.runtime.models import TaskInstance, TicketInstance
from ticketflower.runtime.selectors import task_search, ticket_search
from ticketflower.runtime.tests.workflows import current
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def test_the_paginator_counts_to_its_cap_and_loads_only_the_shown_columns(
    tenant_a: Tenant, settings: Settings
) -> None:
    settings.LIST_COUNT_CAP = 3
    tickets = [review_ticket(tenant_a) for _ in range(5)]
    with company_context(tenant_a.company):
        newest_first = TicketInstance.objects.order_by("-created_at", "-pk")
        paginator = CappedPaginator(newest_first, 2, columns=("id", "company_id", "status"))
        assert (paginator.count, paginator.capped, paginator.count_text, paginator.num_pages) == (
            3,
            True,
            "more than 3",
            2,
        )
        rows = list(paginator.page(1).object_list)
        assert [row.pk for row in rows] == [tickets[4].pk, tickets[3].pk]
        assert {"data", "created_at"} <= rows[0].get_deferred_fields()
        exact = CappedPaginator(newest_first.filter(pk__in=[t.pk for t in tickets[:2]]), 2)
        assert (exact.count, exact.capped, exact.count_text) == (2, False, "2")


def test_a_list_says_more_than_the_cap(client: Client, tenant_a: Tenant, settings: Settings) -> None:
    settings.LIST_COUNT_CAP = 2
    for _ in range(3):
        review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    page = client.get("/tickets/runtime/activeticket/")
    shown = " ".join(page.content.decode().split())
    assert shown.count("more than 2 tickets") == 1  # the list's foot; the head says it only when filtered
    assert "found" not in shown
    searched = client.get("/tickets/runtime/activeticket/", {"q": tenant_a.member.email})
    text = " ".join(searched.content.decode().split())
    assert 'data-testid="filtered-count"> more than 2 found (<a href="?">Show all</a>)' in text


def test_an_unknown_sort_keeps_the_newest_first(client: Client, tenant_a: Tenant) -> None:
    """Django would order by the key alone, which no list index serves."""
    client.force_login(tenant_a.ticket_admin)
    for sort in ("0", "-1", "99", "x"):
        page = client.get(f"/tickets/runtime/archivedticket/?o={sort}")
        assert page.context["cl"].queryset.query.order_by[:2] == ("-created_at", "-pk"), sort
    oldest = client.get("/tickets/runtime/archivedticket/?o=4")  # the "submitted" column
    assert oldest.context["cl"].queryset.query.order_by[0] == "created_at"


def test_ticket_search_finds_by_number_type_and_person(tenant_a: Tenant, tenant_b: Tenant) -> None:
    mine = review_ticket(tenant_a)
    review_ticket(tenant_b)  # same type title and the same words in another company
    with company_context(tenant_a.company):
        tickets = TicketInstance.objects.all()

        def found(term: str) -> list[int]:
            return sorted(ticket_search(tickets, term).values_list("pk", flat=True))

        assert found(f"#{mine.pk}") == found(str(mine.pk)) == [mine.pk]
        assert found("ask for") == [mine.pk]  # the ticket type "Ask for something"
        assert found(tenant_a.member.email.split("@")[0]) == [mine.pk]
        assert found("ada") == []  # the admin, who submitted nothing
        User.objects.filter(pk=tenant_a.member.pk).update(first_name="Mia", last_name="Moss")
        assert found("mia moss") == found("Moss") == [mine.pk]  # the name as lists show it
        assert found("#" + "9" * 30) == []  # not a number a ticket can have
        with CaptureQueriesContext(connection) as queries:
            assert found("nothing like this") == []
        # Nothing matched among the types and the people: the tickets are never read.
        assert not any("runtime_ticketinstance" in q["sql"] for q in queries.captured_queries)


def test_task_search_finds_by_number_ticket_title_and_assignee(tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    with company_context(tenant_a.company):
        tasks = TaskInstance.objects.all()
        task = tasks.get()

        def found(term: str) -> list[int]:
            return sorted(task_search(tasks, term).values_list("pk", flat=True))

        assert found(str(task.pk)) == found(f"#{ticket.pk}") == [task.pk]
        assert found("REVIEW") == [task.pk]  # its title, from the release
        assert found(tenant_a.worker.email) == [task.pk]
        assert found("nobody") == []


def test_the_api_says_when_its_count_is_capped(client: Client, tenant_a: Tenant, settings: Settings) -> None:
    settings.LIST_COUNT_CAP = 2
    for _ in range(3):
        review_ticket(tenant_a)
    token = make_api_token(tenant_a.ticket_admin)
    capped: Any = client.get("/api/v1/tickets/?all=1&page_size=2", headers=bearer(token)).json()
    assert (capped["count"], capped["count_capped"], len(capped["results"])) == (2, True, 2)
    mine: Any = client.get("/api/v1/tickets/", headers=bearer(make_api_token(tenant_a.member))).json()
    assert (mine["count"], mine["count_capped"]) == (2, True)


def test_an_action_on_all_of_a_capped_list_is_refused(
    client: Client, tenant_a: Tenant, settings: Settings
) -> None:
    settings.LIST_COUNT_CAP = 2
    tasks = [current(review_ticket(tenant_a)) for _ in range(3)]
    client.force_login(tenant_a.ticket_admin)
    url = "/tickets/runtime/activetask/"
    chosen = {"action": "reassign", "_selected_action": [tasks[0].pk], "assigned_to": tenant_a.admin.pk}
    refused = client.post(url, {**chosen, "select_across": "1"}, follow=True)
    assert "More than 2 rows are selected" in " ".join(refused.content.decode().split())
    assert {task_now(t).assigned_to_id for t in tasks} == {tenant_a.worker.pk}  # nobody moved
    settings.LIST_COUNT_CAP = 3  # all three fit: "all" is allowed
    client.post(url, {**chosen, "select_across": "1"})
    assert {task_now(t).assigned_to_id for t in tasks} == {tenant_a.admin.pk}


def test_an_export_past_the_cap_answers_400_with_the_reason(
    client: Client, tenant_a: Tenant, settings: Settings
) -> None:
    settings.LIST_COUNT_CAP = 2
    for _ in range(3):
        review_ticket(tenant_a)
    client.force_login(tenant_a.ticket_admin)
    url = "/tickets/runtime/activeticket/export/"
    refused = client.post(f"{url}?status=IN_PROGRESS", {"format": "0", "resource": "0"}, follow=True)
    # Back to the list as it was filtered, which says why.
    assert refused.redirect_chain == [("/tickets/runtime/activeticket/?status=IN_PROGRESS", 302)]
    assert "An export takes at most 2 rows" in " ".join(refused.content.decode().split())
    narrowed = client.post(f"{url}?q=nobody-at-all", {"format": "0", "resource": "0"})
    assert narrowed.status_code == 200 and narrowed["Content-Type"].startswith("text/csv")


def test_the_created_between_filter_takes_whole_days(client: Client, tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    today = timezone.localdate()
    client.force_login(tenant_a.ticket_admin)
    url = "/tickets/runtime/activeticket/"

    def listed(start: date, end: date) -> list[int]:
        page = client.get(url, {"created_at_from": str(start), "created_at_to": str(end)})
        with company_context(tenant_a.company):
            return [row.pk for row in page.context["cl"].result_list]

    assert listed(today, today) == [ticket.pk]  # "to" today takes all of today
    assert listed(today + timedelta(days=1), today + timedelta(days=2)) == []
    assert listed(today - timedelta(days=2), today - timedelta(days=1)) == []
    assert client.get(url, {"created_at_from": "not a date"}).status_code == 200


def test_the_api_walks_back_past_the_cap_with_before(
    client: Client, tenant_a: Tenant, tenant_b: Tenant, settings: Settings
) -> None:
    settings.LIST_COUNT_CAP = 2
    tickets = [review_ticket(tenant_a) for _ in range(4)]
    other = review_ticket(tenant_b)
    headers = bearer(make_api_token(tenant_a.ticket_admin))

    def page(query: str) -> Any:
        return client.get(f"/api/v1/tickets/?all=1&page_size=2{query}", headers=headers)

    first = page("").json()
    assert [t["id"] for t in first["results"]] == [tickets[3].pk, tickets[2].pk]
    older = page(f"&before={tickets[2].pk}").json()
    assert [t["id"] for t in older["results"]] == [tickets[1].pk, tickets[0].pk]
    for wrong in (str(other.pk), "x", "9" * 40):  # another company's ticket is no anchor either
        refused = page(f"&before={wrong}")
        assert refused.status_code == 400 and "before" in refused.json()["errors"]
