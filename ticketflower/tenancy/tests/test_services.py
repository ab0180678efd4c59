"""Company settings for HTTP actions: the signing secret and how often a failing action is tried."""

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from standardwebhooks import Webhook

from conftest import Tenant
from tests.factories import make_company
from ticketflower.tenancy.models import Company
from ticketflower.tenancy.services import company_update, company_webhook_secret_rotate

pytestmark = pytest.mark.django_db


def stored_secret(company: Company) -> str:
    return Company.unscoped.get(pk=company.pk).webhook_secret


def test_a_new_company_gets_a_standard_webhooks_secret_of_32_random_bytes() -> None:
    secret = make_company().webhook_secret
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    Webhook(secret)  # the signing library takes it


def test_each_new_company_gets_its_own_secret() -> None:
    assert make_company().webhook_secret != make_company().webhook_secret


def test_a_company_admin_rotates_the_secret(tenant_a: Tenant) -> None:
    before = stored_secret(tenant_a.company)
    returned = company_webhook_secret_rotate(actor=tenant_a.admin)
    assert returned != before
    assert stored_secret(tenant_a.company) == returned
    assert returned.startswith("whsec_")


def test_rotating_leaves_other_companies_alone(tenant_a: Tenant, tenant_b: Tenant) -> None:
    before = stored_secret(tenant_b.company)
    company_webhook_secret_rotate(actor=tenant_a.admin)
    assert stored_secret(tenant_b.company) == before


def test_only_a_company_admin_may_rotate_the_secret(tenant_a: Tenant) -> None:
    before = stored_secret(tenant_a.company)
    for user in [tenant_a.designer, tenant_a.ticket_admin, tenant_a.worker, tenant_a.member]:
        with pytest.raises(PermissionDenied):
            company_webhook_secret_rotate(actor=user)
    assert stored_secret(tenant_a.company) == before


def test_an_admin_sets_how_often_a_failing_action_is_tried(tenant_a: Tenant) -> None:
    assert tenant_a.company.action_max_attempts == 5
    company_update(actor=tenant_a.admin, name="Alpha Florists", action_max_attempts=12)
    assert Company.unscoped.get(pk=tenant_a.company.pk).action_max_attempts == 12


@pytest.mark.parametrize("attempts", [0, 21])
def test_attempts_outside_1_to_20_are_refused(tenant_a: Tenant, attempts: int) -> None:
    with pytest.raises(ValidationError) as caught:
        company_update(actor=tenant_a.admin, name="Alpha Florists", action_max_attempts=attempts)
    assert "action_max_attempts" in caught.value.message_dict
    assert Company.unscoped.get(pk=tenant_a.company.pk).action_max_attempts == 5


# --- the migration --------------------------------------------------------------------------


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_secrets() -> Iterator[Any]:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        yield migrate([("tenancy", "0004_company_references")])
    finally:
        migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_existing_company_its_own_secret(before_secrets: Any) -> None:
    OldCompany = before_secrets.get_model("tenancy", "Company")
    pks = [OldCompany._base_manager.create(name=f"Old {n}").pk for n in range(3)]
    apps = migrate([("tenancy", "0005_company_webhook_secret")])
    Company = apps.get_model("tenancy", "Company")
    secrets = list(Company._base_manager.filter(pk__in=pks).values_list("webhook_secret", flat=True))
    assert len(set(secrets)) == 3
    assert all(len(base64.b64decode(s.removeprefix("whsec_"))) == 32 for s in secrets)
    assert set(Company._base_manager.filter(pk__in=pks).values_list("action_max_attempts", flat=True)) == {5}
