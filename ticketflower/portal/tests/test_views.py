import pytest
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from ticketflower.portal.selectors import AREAS

pytestmark = pytest.mark.django_db


def test_dashboard_shows_who_i_am_and_my_roles(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    page = client.get(reverse("portal:dashboard"))
    assert tenant_a.member.email in page.text
    assert "Alpha Florists" in page.text
    assert "Alpha staff" in page.text  # company role
    assert [area.slug for area in page.context["areas"]] == ["submit", "my-tickets"]


def test_dashboard_links_exactly_the_areas_my_roles_open(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    page = client.get(reverse("portal:dashboard"))
    assert [area.slug for area in page.context["areas"]] == [area.slug for area in AREAS]
    for area in AREAS:
        assert f'href="{area.url}"' in page.text
        assert client.get(area.url).status_code == 200


def test_an_area_without_its_role_is_not_found(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.worker)
    assert client.get(reverse("worker:index")).status_code == 200
    for site in ["design", "tickets", "company"]:
        assert client.get(reverse(f"{site}:index")).status_code == 404
    assert client.get(reverse("portal:area", kwargs={"slug": "submit"})).status_code == 404
    assert client.get(reverse("portal:area", kwargs={"slug": "no-such-area"})).status_code == 404


def test_role_sites_send_strangers_to_the_login_page(client: Client, db: None) -> None:
    for site in ["design", "tickets", "worker", "company"]:
        response = client.get(reverse(f"{site}:index"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_an_area_with_its_own_page_opens_that_page(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    response = client.get(reverse("portal:area", kwargs={"slug": "submit"}))
    assert response.status_code == 302 and response["Location"] == reverse("portal:submit")


def test_the_header_links_the_submitters_pages_for_people_with_the_user_role(
    client: Client, tenant_a: Tenant
) -> None:
    client.force_login(tenant_a.member)
    assert f'href="{reverse("portal:my_tickets")}"' in client.get(reverse("accounts:profile")).text
    client.force_login(tenant_a.worker)
    assert f'href="{reverse("portal:my_tickets")}"' not in client.get(reverse("accounts:profile")).text
