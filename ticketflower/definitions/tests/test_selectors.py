import pytest

from conftest import Tenant
from tests.factories import load_bundle, make_release
from ticketflower.accounts.models import User
from ticketflower.definitions import services
from ticketflower.definitions.bundles import bundle_with_defaults
from ticketflower.definitions.selectors import bundle_diff, submittable_ticket_types
from ticketflower.tenancy import services as tenancy_services
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole

pytestmark = pytest.mark.django_db


def publish(tenant: Tenant, bundle_name: str, role: str | None = None) -> None:
    bundle = load_bundle(bundle_name, role=role)
    workflow = services.bundle_import(actor=tenant.designer, bundle=bundle).workflow
    assert workflow is not None
    make_release(tenant.designer, workflow)


def titles(tenant: Tenant, user: User) -> list[str]:
    with company_context(tenant.company):
        return [t.title for t in submittable_ticket_types(user)]


def test_people_may_submit_published_ticket_types_open_to_them(tenant_a: Tenant, tenant_b: Tenant) -> None:
    publish(tenant_a, "it-equipment-request.yaml")
    publish(tenant_a, "purchase-order.yaml", role="Alpha staff")
    # A draft that was never published offers nothing.
    assert services.bundle_import(actor=tenant_a.designer, bundle=load_bundle("customer-complaint.yaml")).ok
    assert titles(tenant_a, tenant_a.member) == ["Request IT equipment", "Request a purchase"]
    assert titles(tenant_a, tenant_a.worker) == ["Request IT equipment"]
    assert titles(tenant_b, tenant_b.member) == []


def test_renaming_a_role_keeps_access_and_deleting_it_fails_closed(tenant_a: Tenant) -> None:
    publish(tenant_a, "purchase-order.yaml", role="Alpha staff")
    tenancy_services.company_role_update(
        actor=tenant_a.admin, role=tenant_a.role, name="Everyone at Alpha", description=""
    )
    assert titles(tenant_a, tenant_a.member) == ["Request a purchase"]
    with company_context(tenant_a.company):
        CompanyRole.objects.filter(pk=tenant_a.role.pk).delete()
    # The release still limits it to the deleted role: nobody may submit, not everybody.
    assert titles(tenant_a, tenant_a.member) == []
    assert titles(tenant_a, tenant_a.admin) == []


def test_a_bundle_from_before_assignments_differs_from_todays_only_where_a_task_really_changed() -> None:
    old = load_bundle("it-equipment-request.yaml")  # no assignment or worker_role keys
    today = bundle_with_defaults(old)
    assert bundle_diff(old, today, before_name="release #1", after_name="draft") == []
    today["workflow"]["tasks"][0]["assignment"] = "pool"
    diff = bundle_diff(old, today, before_name="release #1", after_name="draft")
    assert [line for line in diff if line[0] in "+-" and line[:3] not in ("+++", "---")] == [
        '-        "assignment": "auto",',
        '+        "assignment": "pool",',
    ]
