"""Personal API tokens: made with a secret shown once, stored as a hash, revoked only by their owner."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import Tenant
from ticketflower.accounts.models import ApiToken, User
from ticketflower.accounts.selectors import api_token_by_hash, user_api_tokens
from ticketflower.accounts.services import (
    MAX_ACTIVE_API_TOKENS,
    api_token_create,
    api_token_revoke,
    notification_preferences_update,
)
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def test_the_secret_has_the_prefix_and_32_random_bytes_and_only_its_hash_is_stored(tenant_a: Tenant) -> None:
    token, secret = api_token_create(user=tenant_a.member, name=" laptop ")
    match = re.fullmatch(r"tf_([a-z0-9]{8})_([A-Za-z0-9_-]{43})", secret)
    assert match is not None
    assert token.prefix == match.group(1)
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.name == "laptop" and token.company_id == tenant_a.company.pk
    stored = ApiToken.unscoped.filter(pk=token.pk).values()[0]
    assert secret not in str(stored) and match.group(2) not in str(stored)


def test_two_tokens_never_share_a_secret(tenant_a: Tenant) -> None:
    secrets = {api_token_create(user=tenant_a.member, name=f"t{i}")[1] for i in range(5)}
    assert len(secrets) == 5


def test_a_token_needs_a_name(tenant_a: Tenant) -> None:
    with pytest.raises(ValidationError) as error:
        api_token_create(user=tenant_a.member, name="  ")
    assert "name" in error.value.message_dict


def test_a_token_cannot_expire_in_the_past(tenant_a: Tenant) -> None:
    with pytest.raises(ValidationError) as error:
        api_token_create(user=tenant_a.member, name="x", expires_at=timezone.now() - timedelta(minutes=1))
    assert "expires_at" in error.value.message_dict


def test_a_person_has_at_most_a_limited_number_of_active_tokens(tenant_a: Tenant) -> None:
    tokens = [api_token_create(user=tenant_a.member, name=f"t{i}")[0] for i in range(MAX_ACTIVE_API_TOKENS)]
    with pytest.raises(ValidationError, match="revoke one first"):
        api_token_create(user=tenant_a.member, name="one too many")
    api_token_revoke(user=tenant_a.member, token=tokens[0])
    api_token_create(user=tenant_a.member, name="now it fits")


def test_a_platform_operator_gets_no_token() -> None:
    operator = User.objects.create_superuser("operator@platform.test", "operator-password-1")
    with pytest.raises(ValidationError, match="no company"):
        api_token_create(user=operator, name="ops")


def test_revoking_stamps_the_time_once(tenant_a: Tenant) -> None:
    token, _ = api_token_create(user=tenant_a.member, name="laptop")
    first = api_token_revoke(user=tenant_a.member, token=token).revoked_at
    assert first is not None
    assert api_token_revoke(user=tenant_a.member, token=token).revoked_at == first


def test_nobody_revokes_another_persons_token(tenant_a: Tenant) -> None:
    token, _ = api_token_create(user=tenant_a.member, name="laptop")
    with pytest.raises(ApiToken.DoesNotExist):
        api_token_revoke(user=tenant_a.admin, token=token)
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at is None


def test_nobody_revokes_another_companys_token(tenant_a: Tenant, tenant_b: Tenant) -> None:
    token, _ = api_token_create(user=tenant_b.member, name="laptop")
    with pytest.raises(ApiToken.DoesNotExist):
        api_token_revoke(user=tenant_a.admin, token=token)
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at is None


def test_a_persons_list_holds_only_their_live_tokens(tenant_a: Tenant) -> None:
    kept, _ = api_token_create(user=tenant_a.member, name="kept")
    gone, _ = api_token_create(user=tenant_a.member, name="gone")
    api_token_create(user=tenant_a.admin, name="the admin's")
    api_token_revoke(user=tenant_a.member, token=gone)
    with company_context(tenant_a.company):
        assert list(user_api_tokens(tenant_a.member)) == [kept]


def test_a_token_is_found_by_its_hash_alone(tenant_a: Tenant) -> None:
    token, _ = api_token_create(user=tenant_a.member, name="laptop")
    found = api_token_by_hash(token.key_hash)
    assert found == token and found is not None and found.user == tenant_a.member
    assert api_token_by_hash("0" * 64) is None


def test_notification_preferences_are_saved(tenant_a: Tenant) -> None:
    member = tenant_a.member
    assert (member.notify_task_assigned, member.notify_pool_tasks, member.notify_ticket_finished) == (
        True,
        False,
        True,
    )
    notification_preferences_update(user=member, task_assigned=False, pool_tasks=True, ticket_finished=False)
    fresh = User.unscoped.get(pk=member.pk)
    assert (fresh.notify_task_assigned, fresh.notify_pool_tasks, fresh.notify_ticket_finished) == (
        False,
        True,
        False,
    )
