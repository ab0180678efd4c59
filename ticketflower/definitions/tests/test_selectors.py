import pytest

from conftest import Tenant
from tests.factories import load_bundle
from ticketflower.definitions import services
from ticketflower.definitions.selectors import submittable_ticket_types
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def test_people_may_submit_active_ticket_types_open_to_them(tenant_a: Tenant, tenant_b: Tenant) -> None:
    open_to_all = load_bundle("it-equipment-request.yaml")
    staff_only = load_bundle("purchase-order.yaml")
    staff_only["ticket_types"][0]["allowed_roles"] = ["Alpha staff"]
    for bundle in (open_to_all, staff_only):
        workflow = services.bundle_import(actor=tenant_a.designer, bundle=bundle).workflow
        assert workflow is not None
        services.workflow_activate(actor=tenant_a.designer, workflow=workflow)
        with company_context(tenant_a.company):
            for ticket_type in workflow.ticket_types.all():
                services.ticket_type_activate(actor=tenant_a.designer, ticket_type=ticket_type)
    with company_context(tenant_a.company):
        assert [t.title for t in submittable_ticket_types(tenant_a.member)] == [
            "Request IT equipment",
            "Request a purchase",
        ]
        assert [t.title for t in submittable_ticket_types(tenant_a.worker)] == ["Request IT equipment"]
    with company_context(tenant_b.company):
        assert list(submittable_ticket_types(tenant_b.member)) == []
