"""The design site's live preview: a draft layout compiled against the saved fields, or its problems."""

import json

import pytest
from django.test import Client

from conftest import SANDBOX_ORIGIN, Tenant
from ticketflower.definitions.models import TicketDefinition
from ticketflower.runtime.tests.workflows import publish, review_bundle
from ticketflower.tenancy.context import company_context

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_origin")]


def preview(client: Client, target: str, source: str, mode: str = "") -> dict[str, object]:
    response = client.post(
        "/design/layout-preview/",
        json.dumps({"target": target, "source": source, "mode": mode}),
        content_type="application/json",
    )
    return {"status": response.status_code, **response.json()}


def test_the_preview_shows_a_draft_layout_with_sample_values(client: Client, tenant_a: Tenant) -> None:
    publish(tenant_a.designer, review_bundle())
    with company_context(tenant_a.company):
        pk = TicketDefinition.objects.get().pk
    client.force_login(tenant_a.designer)

    shown = preview(client, f"tickettype:{pk}:edit_layout", "export default () => <p>hi</p>;", mode="display")

    frame = shown["frame"]
    assert shown["status"] == 200 and isinstance(frame, dict)
    assert frame["url"].startswith(f"{SANDBOX_ORIGIN}/frame/")
    assert frame["props"]["mode"] == "display"
    assert frame["props"]["values"] == {"item": "text", "count": 1}


def test_the_preview_names_problems_by_line_and_column(client: Client, tenant_a: Tenant) -> None:
    publish(tenant_a.designer, review_bundle())
    with company_context(tenant_a.company):
        pk = TicketDefinition.objects.get().pk
    client.force_login(tenant_a.designer)

    shown = preview(client, f"tickettype:{pk}:edit_layout", "export default function L() {\n  const x = ;\n}")

    assert shown["problems"] == [{"line": 2, "column": 13, "text": 'Line 2, column 13: Unexpected ";"'}]


def test_the_preview_of_another_companys_definition_is_not_found(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    publish(tenant_b.designer, review_bundle())
    with company_context(tenant_b.company):
        theirs = TicketDefinition.objects.get().pk
    client.force_login(tenant_a.designer)

    assert preview(client, f"tickettype:{theirs}:edit_layout", "export default () => null;")["status"] == 404
    assert preview(client, "workflow:x:edit_layout", "")["status"] == 400
    client.force_login(tenant_a.member)  # not a designer: the design site is not there for them
    assert client.post("/design/layout-preview/", "{}", content_type="application/json").status_code == 404
