"""Bearer tokens: only a live token of an active user gets in, and always as a JSON 401 otherwise."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import Tenant
from tests.factories import bearer, make_api_token
from ticketflower.accounts.models import ApiToken
from ticketflower.accounts.services import api_token_create, api_token_revoke
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db

URL = "/api/v1/ticket-types/"


def assert_401(response: Any, detail: str) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": detail, "errors": {}}


def test_a_live_token_gets_in(client: Client, tenant_a: Tenant) -> None:
    response = client.get(URL, headers=bearer(make_api_token(tenant_a.member)))
    assert response.status_code == 200
    assert response.json() == []


def test_no_token_is_401(client: Client) -> None:
    assert_401(client.get(URL), "Authentication credentials were not provided.")


def test_garbage_token_is_401(client: Client, tenant_a: Tenant) -> None:
    make_api_token(tenant_a.member)
    assert_401(client.get(URL, headers=bearer("tf_abcdefgh_not-a-real-secret")), "Invalid token.")
    assert_401(client.get(URL, headers=bearer("garbage")), "Invalid token.")


def test_another_scheme_is_401_with_how_to_send_the_token(client: Client, tenant_a: Tenant) -> None:
    secret = make_api_token(tenant_a.member)
    response = client.get(URL, headers={"Authorization": f"Token {secret}"})
    assert_401(response, "Send the token as `Authorization: Bearer <token>`.")


def test_two_words_after_bearer_is_401(client: Client, tenant_a: Tenant) -> None:
    secret = make_api_token(tenant_a.member)
    assert_401(
        client.get(URL, headers={"Authorization": f"Bearer {secret} extra"}),
        "Send exactly one token after `Bearer`.",
    )


def test_revoked_token_is_401(client: Client, tenant_a: Tenant) -> None:
    token, secret = api_token_create(user=tenant_a.member, name="laptop")
    api_token_revoke(user=tenant_a.member, token=token)
    assert_401(client.get(URL, headers=bearer(secret)), "This token was revoked.")


def test_expired_token_is_401(client: Client, tenant_a: Tenant) -> None:
    token, secret = api_token_create(
        user=tenant_a.member, name="short", expires_at=timezone.now() + timedelta(hours=1)
    )
    with company_context(tenant_a.company):
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_401(client.get(URL, headers=bearer(secret)), "This token has expired.")


def test_token_of_a_deactivated_user_is_401(client: Client, tenant_a: Tenant) -> None:
    secret = make_api_token(tenant_a.member)
    with company_context(tenant_a.company):
        tenant_a.member.is_active = False
        tenant_a.member.save(update_fields=["is_active"])
    assert_401(client.get(URL, headers=bearer(secret)), "This token's account is deactivated.")


def test_a_logged_in_session_does_not_authenticate_the_api(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    assert_401(client.get(URL), "Authentication credentials were not provided.")


def test_use_is_recorded_at_most_once_a_minute(client: Client, tenant_a: Tenant) -> None:
    token, secret = api_token_create(user=tenant_a.member, name="cron")
    assert token.last_used_at is None
    client.get(URL, headers=bearer(secret))
    first = ApiToken.unscoped.get(pk=token.pk).last_used_at
    assert first is not None
    client.get(URL, headers=bearer(secret))
    assert ApiToken.unscoped.get(pk=token.pk).last_used_at == first

    ApiToken.unscoped.filter(pk=token.pk).update(last_used_at=first - timedelta(seconds=61))
    client.get(URL, headers=bearer(secret))
    assert ApiToken.unscoped.get(pk=token.pk).last_used_at > first
