"""Submitting a ticket: the types I may submit, their forms, what a valid or invalid answer does."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from conftest import Tenant
from tests.factories import make_company_role
from ticketflower.definitions.models import ReleaseTicketType, WorkflowDefinition
from ticketflower.definitions.services import workflow_withdraw
from ticketflower.portal.tests.helpers import every_kind_bundle, publish_again, publish_review
from ticketflower.runtime.models import TicketInstance
from ticketflower.runtime.tests.workflows import publish, review_bundle
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def form_url(ticket_type: ReleaseTicketType) -> str:
    return reverse("portal:submit_type", args=[ticket_type.pk])


def tickets_of(tenant: Tenant) -> list[TicketInstance]:
    return list(TicketInstance.unscoped.filter(company=tenant.company))


def test_submit_lists_the_types_i_may_submit_with_their_workflow(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer, title="Office supplies", ticket_type="Order paper")
    client.force_login(tenant_a.member)

    page = client.get(reverse("portal:submit"))

    assert page.status_code == 200
    assert "Order paper" in page.text
    assert "Workflow: Office supplies" in page.text
    assert f'href="{form_url(ticket_type)}"' in page.text


def test_a_type_my_roles_do_not_open_is_neither_listed_nor_found(client: Client, tenant_a: Tenant) -> None:
    make_company_role(tenant_a.company, "Purchasers")
    bundle = review_bundle(title="Purchasing")
    bundle["ticket_types"][0]["allowed_roles"] = ["Purchasers"]
    closed = publish(tenant_a.designer, bundle)
    client.force_login(tenant_a.member)

    assert "Ask for something" not in client.get(reverse("portal:submit")).text
    assert client.get(form_url(closed)).status_code == 404
    assert client.post(form_url(closed), {"item": "Pens"}).status_code == 404
    assert tickets_of(tenant_a) == []


def test_people_without_the_user_role_find_no_submitter_pages(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer)
    client.force_login(tenant_a.worker)  # a task worker only
    for url in [reverse("portal:submit"), form_url(ticket_type), reverse("portal:my_tickets")]:
        assert client.get(url).status_code == 404, url
    assert client.post(form_url(ticket_type), {"item": "Pens"}).status_code == 404
    assert tickets_of(tenant_a) == []


def test_strangers_are_sent_to_log_in(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer)
    for url in [reverse("portal:submit"), form_url(ticket_type), reverse("portal:my_tickets")]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_the_form_asks_the_types_fields_with_labels_help_and_required_marks_but_no_presets(
    client: Client, tenant_a: Tenant
) -> None:
    ticket_type = publish(tenant_a.designer, every_kind_bundle())
    client.force_login(tenant_a.member)

    page = client.get(form_url(ticket_type))

    assert page.status_code == 200
    form = page.context["form"]
    assert list(form.fields) == [
        "summary",
        "details",
        "urgent",
        "needed_by",
        "tags",
        "site",
    ]  # no preset "desk"
    assert form.fields["summary"].required and not form.fields["details"].required
    assert 'for="id_summary"' in page.text and "Summary<span" in page.text and "Required" in page.text
    assert 'type="date"' in page.text  # a date picker, not a text box
    assert 'type="radio"' in page.text and 'type="checkbox"' in page.text
    # A designer's help text shows as typed, never as markup.
    assert "Say &lt;b&gt;everything&lt;/b&gt;" in page.text
    # Reference links: web links only.
    assert 'href="https://intranet.example.com/policy"' in page.text
    assert "javascript:" not in page.text


def test_valid_answers_make_a_ticket_and_open_its_confirmation(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, every_kind_bundle())
    client.force_login(tenant_a.member)

    response = client.post(
        form_url(ticket_type),
        {"summary": "New chair", "urgent": "true", "needed_by": "2026-01-31", "tags": ["red", "blue"]},
    )

    [ticket] = tickets_of(tenant_a)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:submitted", args=[ticket.pk])
    assert ticket.created_by == tenant_a.member
    assert ticket.data == {
        "summary": "New chair",
        "urgent": True,
        "needed_by": "2026-01-31",
        "tags": ["red", "blue"],
        "desk": "Front desk 7",  # the preset, filled in without asking
    }


def test_the_confirmation_links_the_ticket_and_my_tickets(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer)
    client.force_login(tenant_a.member)
    response = client.post(form_url(ticket_type), {"item": "Stapler"}, follow=True)

    ticket = tickets_of(tenant_a)[0]
    assert f"Your ticket #{ticket.pk} is submitted." in response.text
    assert "Now at" in response.text and "Review" in response.text
    assert f'href="{reverse("portal:ticket", args=[ticket.pk])}"' in response.text
    assert f'href="{reverse("portal:my_tickets")}"' in response.text


def test_invalid_answers_show_field_errors_and_write_nothing(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer)
    client.force_login(tenant_a.member)

    page = client.post(form_url(ticket_type), {"item": "", "count": "a few"})

    assert page.status_code == 200
    assert page.context["form"].errors == {
        "item": ["This field is required."],
        "count": ["Enter a whole number."],
    }
    assert "Please correct the errors below." in page.text
    assert 'value="a few"' in page.text  # what was typed stays
    assert tickets_of(tenant_a) == []


def test_the_services_field_errors_are_shown_on_the_form(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, every_kind_bundle())
    client.force_login(tenant_a.member)

    # The form takes a repeated choice; the type's schema (uniqueItems) refuses it.
    page = client.post(form_url(ticket_type), {"summary": "Paint", "tags": ["red", "red"]})

    assert page.status_code == 200
    assert list(page.context["form"].errors) == ["tags"]
    assert tickets_of(tenant_a) == []


def test_a_workflow_that_cannot_start_with_the_answers_says_so(client: Client, tenant_a: Tenant) -> None:
    bundle = review_bundle(title="Only big orders")
    bundle["workflow"]["transitions"][0]["condition"] = "data.count > 5"
    ticket_type = publish(tenant_a.designer, bundle)
    client.force_login(tenant_a.member)

    page = client.post(form_url(ticket_type), {"item": "Pens", "count": "2"})

    assert page.status_code == 200
    assert "could not start with these answers" in page.text
    assert tickets_of(tenant_a) == []


def test_an_old_releases_type_opens_the_latest_form(client: Client, tenant_a: Tenant) -> None:
    first = publish_review(tenant_a.designer)
    latest = publish_again(tenant_a.designer, first)
    client.force_login(tenant_a.member)

    response = client.get(form_url(first))
    assert response.status_code == 302
    assert response["Location"] == form_url(latest)

    client.post(form_url(first), {"item": "Pens"})
    [ticket] = tickets_of(tenant_a)
    assert ticket.ticket_type_id == latest.pk


def test_a_withdrawn_workflows_type_is_not_found(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish_review(tenant_a.designer)
    with company_context(tenant_a.company):
        workflow = WorkflowDefinition.objects.get()
    workflow_withdraw(actor=tenant_a.designer, workflow=workflow)
    client.force_login(tenant_a.member)

    assert "Ask for something" not in client.get(reverse("portal:submit")).text
    assert client.get(form_url(ticket_type)).status_code == 404
    assert client.post(form_url(ticket_type), {"item": "Pens"}).status_code == 404
    assert tickets_of(tenant_a) == []


def test_another_companys_type_is_not_found(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    theirs = publish_review(tenant_b.designer)
    publish_review(tenant_a.designer)
    client.force_login(tenant_a.admin)  # every role, in the other company

    assert client.get(form_url(theirs)).status_code == 404
    assert client.post(form_url(theirs), {"item": "Pens"}).status_code == 404
    assert tickets_of(tenant_a) == [] and tickets_of(tenant_b) == []


def test_submissions_are_limited_per_person(client: Client, tenant_a: Tenant, settings: Settings) -> None:
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "ticket_submissions_per_user": {"limit": 2, "window": 3600},
    }
    ticket_type = publish_review(tenant_a.designer)
    client.force_login(tenant_a.member)
    client.post(form_url(ticket_type), {"item": ""})  # refused attempts count too
    client.post(form_url(ticket_type), {"item": "Pens"})

    page = client.post(form_url(ticket_type), {"item": "Pencils"})

    assert page.status_code == 429
    assert re.search(r"You have sent many tickets in a short time. Try again in \d+ minutes?;", page.text)
    assert 'value="Pencils"' in page.text
    assert [t.data["item"] for t in tickets_of(tenant_a)] == ["Pens"]
    client.force_login(tenant_a.admin)  # someone else is not held back
    assert client.post(form_url(ticket_type), {"item": "Pencils"}).status_code == 302
