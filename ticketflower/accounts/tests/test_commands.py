"""`manage.py api_token create <email> [--name N]`: prints a working secret, and refuses clearly."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from conftest import Tenant
from tests.factories import PASSWORD, bearer
from ticketflower.accounts.models import ApiToken, User
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_only_the_secret_on_stdout_and_it_works(client: Client, tenant_a: Tenant) -> None:
    out, err = run("create", "MEMBER@alpha-florists.test", "--name", "nightly export")
    secret = out.strip()
    assert secret.startswith("tf_") and "\n" not in secret
    assert "nightly export" in err and "not shown again" in err
    token = ApiToken.unscoped.get(user=tenant_a.member)
    assert token.name == "nightly export" and secret.startswith(f"tf_{token.prefix}_")
    assert client.get("/api/v1/ticket-types/", headers=bearer(secret)).status_code == 200


def test_create_without_a_name_calls_it_command_line(tenant_a: Tenant) -> None:
    run("create", tenant_a.worker.email)
    assert ApiToken.unscoped.get(user=tenant_a.worker).name == "command line"


def test_an_unknown_address_is_refused(db: None) -> None:
    with pytest.raises(CommandError, match=r"No account has the e-mail address nobody@x\.test"):
        run("create", "nobody@x.test")


def test_a_deactivated_account_is_refused(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company):
        User.objects.filter(pk=tenant_a.member.pk).update(is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        run("create", tenant_a.member.email)
    assert not ApiToken.unscoped.exists()


def test_a_platform_operator_is_refused(db: None) -> None:
    User.objects.create_superuser("ops@ticketflower.test", PASSWORD)
    with pytest.raises(CommandError, match="no company"):
        run("create", "ops@ticketflower.test")
