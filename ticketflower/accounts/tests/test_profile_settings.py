"""The profile page's API tokens and e-mail choices: each person sees and changes only their own."""

import pytest
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from tests.factories import PASSWORD
from ticketflower.accounts.models import ApiToken, User
from ticketflower.accounts.services import api_token_create

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
CREATE = reverse("accounts:api_token_create")


def revoke_url(token: ApiToken) -> str:
    return reverse("accounts:api_token_revoke", args=[token.pk])


def test_creating_a_token_shows_its_secret_once_and_lists_it(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    response = client.post(CREATE, {"name": "backup script", "expires_in": "30"})

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = ApiToken.unscoped.get(user=tenant_a.member)
    secret = response.context["new_secret"]
    assert secret.startswith(f"tf_{token.prefix}_") and secret in response.text
    assert token.expires_at is not None
    listed = client.get(PROFILE)
    assert "backup script" in listed.text and f"tf_{token.prefix}_" in listed.text
    assert secret not in listed.text


def test_a_token_without_a_name_is_refused_with_the_reason(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    response = client.post(CREATE, {"name": ""})
    assert response.context["token_form"].errors == {"name": ["This field is required."]}
    assert not ApiToken.unscoped.exists()


def test_the_list_shows_only_my_own_tokens(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    api_token_create(user=tenant_a.member, name="mine")
    api_token_create(user=tenant_a.admin, name="my admin's")
    api_token_create(user=tenant_b.member, name="another company's")
    client.force_login(tenant_a.member)
    assert [t.name for t in client.get(PROFILE).context["api_tokens"]] == ["mine"]


def test_revoking_asks_first_then_revokes_on_post(client: Client, tenant_a: Tenant) -> None:
    token, _ = api_token_create(user=tenant_a.member, name="laptop")
    client.force_login(tenant_a.member)

    confirm = client.get(revoke_url(token))
    assert confirm.status_code == 200 and "laptop" in confirm.text
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at is None

    response = client.post(revoke_url(token))
    assert response.status_code == 302 and response["Location"] == PROFILE
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at is not None
    assert client.get(PROFILE).context["api_tokens"] == []


def test_another_persons_token_is_not_found(client: Client, tenant_a: Tenant) -> None:
    token, _ = api_token_create(user=tenant_a.admin, name="the admin's")
    client.force_login(tenant_a.member)
    assert client.get(revoke_url(token)).status_code == 404
    assert client.post(revoke_url(token)).status_code == 404
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at is None


def test_another_companys_token_is_not_found(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    token, _ = api_token_create(user=tenant_b.member, name="theirs")
    client.force_login(tenant_a.admin)
    assert client.post(revoke_url(token)).status_code == 404
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at is None


def test_creating_a_token_needs_a_post(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    assert client.get(CREATE).status_code == 405


def test_email_choices_are_shown_and_saved(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    assert client.get(PROFILE).context["notifications_form"].initial == {
        "task_assigned": True,
        "pool_tasks": False,
        "ticket_finished": True,
    }
    response = client.post(reverse("accounts:notifications"), {"pool_tasks": "on"})
    assert response.status_code == 302 and response["Location"] == PROFILE
    member = User.unscoped.get(pk=tenant_a.member.pk)
    assert (member.notify_task_assigned, member.notify_pool_tasks, member.notify_ticket_finished) == (
        False,
        True,
        False,
    )


def test_a_platform_operator_has_neither_tokens_nor_email_choices(client: Client, db: None) -> None:
    operator = User.objects.create_superuser("ops@ticketflower.test", PASSWORD)
    client.force_login(operator)
    page = client.get(PROFILE)
    assert page.status_code == 200 and "api_tokens" not in page.context
    assert client.post(CREATE, {"name": "ops"}).status_code == 404
    assert client.post(reverse("accounts:notifications"), {}).status_code == 404
