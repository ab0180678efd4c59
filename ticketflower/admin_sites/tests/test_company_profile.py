"""The company profile page: HTTP action attempts, and the signing secret shown masked and rotated."""

import pytest
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from ticketflower.admin_sites.company import MASKED_SECRET
from ticketflower.tenancy.models import Company

pytestmark = pytest.mark.django_db


def secret_of(tenant: Tenant) -> str:
    return Company.unscoped.get(pk=tenant.company.pk).webhook_secret


def rotate_url(tenant: Tenant) -> str:
    return reverse("company:tenancy_company_rotate_secret_detail", args=[tenant.company.pk])


def test_the_profile_shows_the_secret_masked_with_a_reveal_button(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    page = client.get(reverse("company:tenancy_company_change", args=[tenant_a.company.pk])).content.decode()
    assert f'data-secret="{secret_of(tenant_a)}"' in page
    assert f">{MASKED_SECRET}</code>" in page
    assert "data-secret-reveal" in page
    assert "admin_sites/secret_reveal.js" in page


def test_an_admin_sets_the_attempts_on_the_profile(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    url = reverse("company:tenancy_company_change", args=[tenant_a.company.pk])
    response = client.post(url, {"name": "Alpha Florists", "action_max_attempts": "9"})
    assert response.status_code == 302
    assert Company.unscoped.get(pk=tenant_a.company.pk).action_max_attempts == 9


def test_attempts_over_20_are_a_field_error(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    url = reverse("company:tenancy_company_change", args=[tenant_a.company.pk])
    response = client.post(url, {"name": "Alpha Florists", "action_max_attempts": "50"})
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 20." in response.content.decode()
    assert Company.unscoped.get(pk=tenant_a.company.pk).action_max_attempts == 5


def test_rotating_asks_first_and_changes_nothing_until_confirmed(client: Client, tenant_a: Tenant) -> None:
    before = secret_of(tenant_a)
    client.force_login(tenant_a.admin)
    response = client.get(rotate_url(tenant_a))
    assert response.status_code == 200
    assert "Rotate the signing secret?" in response.content.decode()
    assert secret_of(tenant_a) == before


def test_a_confirmed_rotation_makes_a_new_secret(client: Client, tenant_a: Tenant) -> None:
    before = secret_of(tenant_a)
    client.force_login(tenant_a.admin)
    response = client.post(rotate_url(tenant_a))
    assert response.status_code == 302
    assert response["Location"] == reverse("company:tenancy_company_change", args=[tenant_a.company.pk])
    assert secret_of(tenant_a) != before


def test_rotating_through_another_companys_id_is_not_found(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    mine, theirs = secret_of(tenant_a), secret_of(tenant_b)
    client.force_login(tenant_a.admin)
    assert client.post(rotate_url(tenant_b)).status_code == 404
    assert (secret_of(tenant_a), secret_of(tenant_b)) == (mine, theirs)


def test_people_without_the_admin_role_cannot_rotate(client: Client, tenant_a: Tenant) -> None:
    before = secret_of(tenant_a)
    client.force_login(tenant_a.designer)
    assert client.post(rotate_url(tenant_a)).status_code == 404
    assert secret_of(tenant_a) == before
