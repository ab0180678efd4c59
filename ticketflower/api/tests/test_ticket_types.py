"""GET /api/v1/ticket-types/: what the token's user may submit, with each type's JSON Schema."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conftest import Tenant
from tests.factories import bearer, load_bundle, make_api_token, make_release, make_workflow
from ticketflower.definitions.services import bundle_import

pytestmark = pytest.mark.django_db

URL = "/api/v1/ticket-types/"


def test_lists_the_published_types_with_their_schema(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    make_release(tenant_a.designer, workflow)

    response = client.get(URL, headers=bearer(make_api_token(tenant_a.member)))

    assert response.status_code == 200
    [ticket_type] = response.json()
    assert set(ticket_type) == {"id", "title", "description", "workflow", "schema"}
    assert ticket_type["title"] == "Request IT equipment"
    assert ticket_type["description"] == "Ask for a laptop, monitor, phone or headset."
    assert ticket_type["workflow"] == "IT equipment request"
    schema = ticket_type["schema"]
    assert list(schema["properties"]) == ["item", "reason", "needed_by", "estimated_cost"]
    assert schema["required"] == ["item", "reason"]
    assert schema["properties"]["item"]["enum"] == ["Laptop", "Monitor", "Phone", "Headset"]
    assert schema["additionalProperties"] is False


def test_an_unpublished_workflow_offers_nothing(client: Client, tenant_a: Tenant) -> None:
    make_workflow(tenant_a.designer)
    assert client.get(URL, headers=bearer(make_api_token(tenant_a.member))).json() == []


def test_a_type_for_a_role_is_listed_only_for_its_members(client: Client, tenant_a: Tenant) -> None:
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["ticket_types"][0]["allowed_roles"] = [tenant_a.role.name]
    workflow = bundle_import(actor=tenant_a.designer, bundle=bundle).workflow
    assert workflow is not None
    make_release(tenant_a.designer, workflow)

    member = client.get(URL, headers=bearer(make_api_token(tenant_a.member))).json()
    worker = client.get(URL, headers=bearer(make_api_token(tenant_a.worker))).json()
    assert [t["title"] for t in member] == ["Request IT equipment"]
    assert worker == []


def test_a_token_of_company_a_never_sees_company_bs_types(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_release(tenant_a.designer, make_workflow(tenant_a.designer))
    make_release(tenant_b.designer, make_workflow(tenant_b.designer, "customer-complaint.yaml"))

    alpha = client.get(URL, headers=bearer(make_api_token(tenant_a.admin))).json()
    bravo = client.get(URL, headers=bearer(make_api_token(tenant_b.admin))).json()

    assert [t["workflow"] for t in alpha] == ["IT equipment request"]
    assert bravo and all(t["workflow"] != "IT equipment request" for t in bravo)
    assert {t["id"] for t in alpha}.isdisjoint({t["id"] for t in bravo})


def test_queries_do_not_grow_with_the_number_of_types(client: Client, tenant_a: Tenant) -> None:
    secret = make_api_token(tenant_a.member)
    make_release(tenant_a.designer, make_workflow(tenant_a.designer))
    client.get(URL, headers=bearer(secret))  # the first use records it; count a steady-state request
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(URL, headers=bearer(secret)).json()) == 1

    make_release(tenant_a.designer, make_workflow(tenant_a.designer, "customer-complaint.yaml"))
    with CaptureQueriesContext(connection) as more:
        assert len(client.get(URL, headers=bearer(secret)).json()) > 1

    assert len(more) == len(one)
