"""My tickets: only mine, Active and Closed, filtered, sorted, paged by keyset in a fixed number of queries."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import Tenant
from ticketflower.portal.tests.helpers import publish_again, publish_review, set_run, submit
from ticketflower.runtime.models import TicketInstance, WorkflowStatus

pytestmark = pytest.mark.django_db

URL = reverse("portal:my_tickets")


def shown(page: object) -> list[int]:
    return [row.pk for row in page.context["page"].rows]  # type: ignore[attr-defined]


def many(tenant: Tenant, count: int) -> list[TicketInstance]:
    ticket_type = publish_review(tenant.designer)
    return [submit(tenant.member, ticket_type, item=f"Thing {n}") for n in range(count)]


def test_only_tickets_i_submitted_are_listed(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer)
    mine = submit(tenant_a.member, ticket_type)
    submit(tenant_a.admin, ticket_type)  # a colleague's
    submit(tenant_b.member, publish_review(tenant_b.designer))  # another company's
    client.force_login(tenant_a.member)

    page = client.get(URL)

    assert shown(page) == [mine.pk]
    assert f'href="{reverse("portal:ticket", args=[mine.pk])}"' in page.text
    assert "Now at: Review" in page.text


def test_active_and_closed_tabs_split_by_the_runs_status(client: Client, tenant_a: Tenant) -> None:
    running, done, cancelled, stuck = many(tenant_a, 4)
    set_run(done, WorkflowStatus.COMPLETED)
    set_run(cancelled, WorkflowStatus.CANCELLED)
    set_run(stuck, WorkflowStatus.ERROR, "No transition matched")
    client.force_login(tenant_a.member)

    assert shown(client.get(URL)) == [stuck.pk, running.pk]
    assert shown(client.get(URL, {"tab": "closed"})) == [cancelled.pk, done.pk]
    assert shown(client.get(URL, {"tab": "all"})) == [stuck.pk, cancelled.pk, done.pk, running.pk]
    assert "Needs attention" in client.get(URL).text


def test_filter_by_status_within_a_tab(client: Client, tenant_a: Tenant) -> None:
    running, stuck = many(tenant_a, 2)
    set_run(stuck, WorkflowStatus.ERROR, "boom")
    client.force_login(tenant_a.member)

    assert shown(client.get(URL, {"status": "ERROR"})) == [stuck.pk]
    assert shown(client.get(URL, {"tab": "all", "status": "IN_PROGRESS"})) == [running.pk]
    # A status of the other tab does not fit: it is not applied.
    assert shown(client.get(URL, {"tab": "active", "status": "COMPLETED"})) == [stuck.pk, running.pk]


def test_filter_by_type_takes_every_release_of_the_type(client: Client, tenant_a: Tenant) -> None:
    first = publish_review(tenant_a.designer, title="Supplies", ticket_type="Order supplies")
    old = submit(tenant_a.member, first)
    latest = publish_again(tenant_a.designer, first)
    new = submit(tenant_a.member, latest)
    other = submit(tenant_a.member, publish_review(tenant_a.designer, title="Repairs", ticket_type="Fix it"))
    client.force_login(tenant_a.member)

    page = client.get(URL, {"type": first.pk})

    assert shown(page) == [new.pk, old.pk]
    options = re.findall(r'<option value="(\d+)"[^>]*>\s*([^<]+?)\s*</option>', page.text)
    assert [title for _, title in options] == ["Fix it", "Order supplies"]  # one option per type
    assert shown(client.get(URL, {"type": other.ticket_type_id})) == [other.pk]


def test_another_companys_type_id_filters_to_nothing(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    many(tenant_a, 1)
    theirs = publish_review(tenant_b.designer)
    client.force_login(tenant_a.member)

    page = client.get(URL, {"type": theirs.pk})

    assert shown(page) == []
    assert "No tickets match these filters." in page.text


def test_sort_by_type_and_by_update(client: Client, tenant_a: Tenant) -> None:
    zebra = submit(tenant_a.member, publish_review(tenant_a.designer, title="Z", ticket_type="Zebra care"))
    apple = submit(tenant_a.member, publish_review(tenant_a.designer, title="A", ticket_type="Apple picking"))
    set_run(zebra, WorkflowStatus.IN_PROGRESS)  # touched last
    client.force_login(tenant_a.member)

    assert shown(client.get(URL, {"sort": "type"})) == [apple.pk, zebra.pk]
    assert shown(client.get(URL, {"sort": "-type"})) == [zebra.pk, apple.pk]
    assert shown(client.get(URL, {"sort": "-updated"})) == [zebra.pk, apple.pk]
    assert shown(client.get(URL, {"sort": "updated"})) == [apple.pk, zebra.pk]
    assert shown(client.get(URL, {"sort": "submitted"})) == [zebra.pk, apple.pk]
    assert shown(client.get(URL, {"sort": "nonsense"})) == [apple.pk, zebra.pk]  # newest first


def test_pages_of_25_link_forward_and_back(client: Client, tenant_a: Tenant) -> None:
    tickets = many(tenant_a, 27)
    newest_first = [t.pk for t in reversed(tickets)]
    client.force_login(tenant_a.member)

    first = client.get(URL, {"sort": "-submitted"})
    assert shown(first) == newest_first[:25]
    assert first.context["previous_url"] == ""
    second = client.get(URL + first.context["next_url"])
    assert shown(second) == newest_first[25:]
    assert second.context["next_url"] == ""
    back = client.get(URL + second.context["previous_url"])
    assert shown(back) == newest_first[:25]
    assert back.context["previous_url"] == ""


def test_pages_keep_the_filters_and_the_sort(client: Client, tenant_a: Tenant) -> None:
    tickets = many(tenant_a, 27)
    client.force_login(tenant_a.member)

    first = client.get(URL, {"tab": "all", "sort": "submitted", "status": "IN_PROGRESS"})
    assert "sort=submitted" in first.context["next_url"] and "status=IN_PROGRESS" in first.context["next_url"]
    second = client.get(URL + first.context["next_url"])
    assert shown(second) == [t.pk for t in tickets[25:]]


def test_a_cursor_made_by_hand_shows_the_first_page(client: Client, tenant_a: Tenant) -> None:
    tickets = many(tenant_a, 2)
    client.force_login(tenant_a.member)

    page = client.get(URL, {"cursor": "after:2020-01-01:1"})

    assert page.status_code == 200
    assert shown(page) == [tickets[1].pk, tickets[0].pk]


def list_queries(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, {"tab": "all", "sort": "-updated"})
        assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_list_takes_the_same_few_queries_for_3_tickets_or_30(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer)
    for n in range(3):
        submit(tenant_a.member, ticket_type, item=f"Thing {n}")
    client.force_login(tenant_a.member)
    few = list_queries(client)
    for n in range(27):
        submit(tenant_a.member, ticket_type, item=f"More {n}")
    more = list_queries(client)

    # The session, the user with their company, their roles, the type choices, the page.
    assert len(few) == len(more) == 5, "\n".join(more)
    assert not any("COUNT(" in sql.upper() for sql in more)
    [page_query] = [sql for sql in more if "LIMIT 26" in sql]
    assert '"bundle"' not in page_query and '"runtime_ticketinstance"."data"' not in page_query
