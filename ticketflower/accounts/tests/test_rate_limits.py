"""Per-network and per-address rate limits on login, sign-up and password reset: 429 with the wait."""

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from conftest import Tenant
from tests.factories import PASSWORD
from ticketflower.tenancy.models import Company

pytestmark = pytest.mark.django_db

NETWORK_MESSAGE = "Too many attempts from your network. Try again in"


@pytest.fixture
def low_limits(settings: Settings) -> None:
    settings.RATE_LIMITS = {scope: {"limit": 3, "window": 900} for scope in settings.RATE_LIMITS}


def log_in(client: Client, email: str, password: str, address: str = "198.51.100.7") -> Any:
    return client.post(
        reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=address
    )


def assert_limited(response: Any, message: str = NETWORK_MESSAGE) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 900
    assert message in response.text
    assert "minute" in response.text
    assert "unfold" in response.text  # the portal's page, not a bare error


def test_failed_logins_across_accounts_block_the_network_even_with_the_right_password(
    client: Client, tenant_a: Tenant, low_limits: None
) -> None:
    for user in [tenant_a.designer, tenant_a.worker, tenant_a.member]:  # one try each: no axes lockout
        assert log_in(client, user.email, "wrong-password-1").status_code == 200
    assert_limited(log_in(client, tenant_a.admin.email, PASSWORD))
    assert "_auth_user_id" not in client.session


def test_another_network_may_still_log_in(client: Client, tenant_a: Tenant, low_limits: None) -> None:
    for user in [tenant_a.designer, tenant_a.worker, tenant_a.member]:
        log_in(client, user.email, "wrong-password-1")
    assert log_in(client, tenant_a.admin.email, PASSWORD, address="192.0.2.44").status_code == 302


def test_successful_logins_do_not_count(client: Client, tenant_a: Tenant, low_limits: None) -> None:
    for _ in range(5):
        assert log_in(client, tenant_a.admin.email, PASSWORD).status_code == 302
        client.logout()


def test_sign_ups_from_one_network_are_limited(client: Client, low_limits: None) -> None:
    for n in range(3):
        data = {
            "company_name": f"Shop {n}",
            "first_name": "Sam",
            "last_name": "Shop",
            "email": f"sam{n}@shop.test",
            "password": "counter-weight-88",
        }
        assert client.post(reverse("accounts:signup"), data, REMOTE_ADDR="198.51.100.7").status_code == 302
        client.logout()
    extra = {**data, "company_name": "Shop 9", "email": "sam9@shop.test"}
    assert_limited(client.post(reverse("accounts:signup"), extra, REMOTE_ADDR="198.51.100.7"))
    assert not Company.unscoped.filter(name="Shop 9").exists()


def reset(client: Client, email: str, address: str = "198.51.100.7") -> Any:
    return client.post(reverse("accounts:password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_password_resets_from_one_network_are_limited(
    client: Client, tenant_a: Tenant, low_limits: None
) -> None:
    for user in [tenant_a.designer, tenant_a.worker, tenant_a.member]:
        assert reset(client, user.email).status_code == 302
    assert_limited(reset(client, tenant_a.admin.email))
    assert len(mail.outbox) == 3


def test_password_resets_for_one_address_are_limited_the_same_whether_it_exists_or_not(
    client: Client, tenant_a: Tenant, low_limits: None
) -> None:
    answers: dict[str, list[tuple[int, str]]] = {}
    for email in [tenant_a.worker.email, "nobody@alpha-florists.test"]:
        # From different networks, so only the per-address limit applies.
        responses = [reset(client, email, address=f"203.0.113.{n}") for n in range(4)]
        answers[email] = [(r.status_code, r.get("Location", "")) for r in responses]
        assert_limited(responses[-1], "Too many password reset requests for this address. Try again in")
    assert answers[tenant_a.worker.email] == answers["nobody@alpha-florists.test"]
    assert [status for status, _ in answers[tenant_a.worker.email]] == [302, 302, 302, 429]
    assert [message.to for message in mail.outbox] == [[tenant_a.worker.email]] * 3


def test_the_default_limits(settings: Settings) -> None:
    assert settings.RATE_LIMITS == {
        "login_failures_per_network": {"limit": 30, "window": 900},
        "signups_per_network": {"limit": 10, "window": 3600},
        "password_resets_per_network": {"limit": 10, "window": 3600},
        "password_resets_per_address": {"limit": 3, "window": 3600},
        "ticket_submissions_per_user": {"limit": 60, "window": 3600},
        "file_uploads_per_user": {"limit": 120, "window": 3600},
        "layout_previews_per_user": {"limit": 600, "window": 600},
        "assistant_messages_per_user": {"limit": 120, "window": 3600},
        "code_checks_per_user": {"limit": 600, "window": 600},
        "code_tries_per_user": {"limit": 120, "window": 3600},
    }
