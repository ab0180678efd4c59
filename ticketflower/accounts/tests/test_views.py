import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from tests.factories import PASSWORD
from ticketflower.accounts.models import User
from ticketflower.tenancy.models import Company

pytestmark = pytest.mark.django_db

SIGN_UP = {
    "company_name": "Dune Dental",
    "first_name": "Dee",
    "last_name": "Dune",
    "email": "dee@dune.test",
    "password": "molar-express-77",
}


def test_sign_up_page_creates_the_company_and_logs_in(client: Client) -> None:
    response = client.post(reverse("accounts:signup"), SIGN_UP)
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    dashboard = client.get(reverse("portal:dashboard"))
    assert dashboard.status_code == 200
    assert "Dune Dental" in dashboard.text and "Workflow designer" in dashboard.text


def test_sign_up_with_taken_email_shows_a_field_error_and_creates_nothing(
    client: Client, tenant_a: Tenant
) -> None:
    companies = Company.unscoped.count()
    response = client.post(reverse("accounts:signup"), {**SIGN_UP, "email": "ADMIN@alpha-florists.test"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": ["An account with this e-mail address already exists."]
    }
    assert Company.unscoped.count() == companies


def test_sign_up_with_weak_password_shows_why(client: Client) -> None:
    response = client.post(reverse("accounts:signup"), {**SIGN_UP, "password": "123"})
    errors = response.context["form"].errors["password"]
    assert any("too short" in error for error in errors)
    assert not Company.unscoped.exists()


def test_sign_up_with_missing_fields_shows_each(client: Client) -> None:
    response = client.post(reverse("accounts:signup"), {})
    assert set(response.context["form"].errors) == set(SIGN_UP)


def test_login_with_email_in_any_case(client: Client, tenant_a: Tenant) -> None:
    response = client.post(
        reverse("accounts:login"), {"username": "Worker@Alpha-Florists.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("portal:dashboard")).context["user"] == tenant_a.worker


def test_wrong_password_says_so_without_telling_which_part(client: Client, tenant_a: Tenant) -> None:
    response = client.post(reverse("accounts:login"), {"username": tenant_a.worker.email, "password": "nope"})
    assert response.status_code == 200
    assert "That e-mail and password do not match an active account." in response.text


def test_repeated_failed_logins_lock_the_account_out(client: Client, tenant_a: Tenant) -> None:
    # Varying the case of the address does not dodge the count.
    for email in ["worker@alpha-florists.test", "WORKER@alpha-florists.test"] * 2:
        client.post(reverse("accounts:login"), {"username": email, "password": "wrong"})
    fifth = client.post(reverse("accounts:login"), {"username": tenant_a.worker.email, "password": "wrong"})
    assert fifth.status_code == 429
    response = client.post(
        reverse("accounts:login"), {"username": tenant_a.worker.email, "password": PASSWORD}
    )
    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked.
    other = client.post(reverse("accounts:login"), {"username": tenant_a.member.email, "password": PASSWORD})
    assert other.status_code == 302


def test_logout_ends_the_session(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 302


def test_password_reset_sends_a_working_link(client: Client, tenant_a: Tenant) -> None:
    response = client.post(reverse("accounts:password_reset"), {"email": "MEMBER@alpha-florists.test"})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [tenant_a.member.email]
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", str(mail.outbox[0].body))
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert form_page.context["validlink"]
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "fresh-daisies-11", "new_password2": "fresh-daisies-11"},
    )
    assert done["Location"] == reverse("accounts:password_reset_complete")
    assert User.unscoped.get(pk=tenant_a.member.pk).check_password("fresh-daisies-11")
    # A used link does not work twice.
    assert not client.get(link.group(1), follow=True).context["validlink"]


def test_password_reset_answers_the_same_for_unknown_addresses(client: Client, tenant_a: Tenant) -> None:
    known = client.post(reverse("accounts:password_reset"), {"email": tenant_a.member.email})
    unknown = client.post(reverse("accounts:password_reset"), {"email": "nobody@nowhere.test"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1


def test_password_reset_link_expires_after_the_timeout(
    client: Client, tenant_a: Tenant, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from django.utils.http import urlsafe_base64_encode

    token = default_token_generator.make_token(tenant_a.member)
    uid = urlsafe_base64_encode(str(tenant_a.member.pk).encode())
    url = reverse("accounts:password_reset_confirm", args=[uid, token])
    assert client.get(url, follow=True).context["validlink"]  # valid now...
    later = default_token_generator._now() + timedelta(seconds=3601)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    assert not client.get(url, follow=True).context["validlink"]  # ...not an hour later


def test_profile_edit_saves_and_refuses_a_taken_address(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client.force_login(tenant_a.member)
    url = reverse("accounts:profile")
    taken = client.post(
        url,
        {"first_name": "Mia", "last_name": "M", "email": tenant_b.admin.email, "current_password": PASSWORD},
    )
    assert taken.context["form"].errors == {"email": ["An account with this e-mail address already exists."]}
    saved = client.post(
        url,
        {"first_name": "Mia", "last_name": "Member", "email": "mia@alpha.test", "current_password": PASSWORD},
    )
    assert saved.status_code == 302
    member = User.unscoped.get(pk=tenant_a.member.pk)
    assert (member.first_name, member.email) == ("Mia", "mia@alpha.test")


def test_password_change_needs_the_old_password(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    url = reverse("accounts:password_change")
    wrong = client.post(
        url, {"old_password": "x", "new_password1": "pine-cones-99", "new_password2": "pine-cones-99"}
    )
    assert "old_password" in wrong.context["form"].errors
    right = client.post(
        url, {"old_password": PASSWORD, "new_password1": "pine-cones-99", "new_password2": "pine-cones-99"}
    )
    assert right.status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 200  # still logged in
    assert User.unscoped.get(pk=tenant_a.member.pk).check_password("pine-cones-99")


def test_pages_for_people_need_a_login(client: Client) -> None:
    for name in ["portal:dashboard", "accounts:profile", "accounts:password_change"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_changing_the_email_needs_the_current_password(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    url = reverse("accounts:profile")
    for password in ["", "wrong-password"]:
        response = client.post(
            url,
            {"first_name": "M", "last_name": "M", "email": "thief@evil.test", "current_password": password},
        )
        assert "current_password" in response.context["form"].errors
    names_only = client.post(url, {"first_name": "Mo", "last_name": "M", "email": tenant_a.member.email})
    assert names_only.status_code == 302
    assert User.unscoped.get(pk=tenant_a.member.pk).email == tenant_a.member.email


def test_a_reset_link_opened_in_another_companys_session_works_and_logs_that_session_out(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client.post(reverse("accounts:password_reset"), {"email": tenant_b.member.email})
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", str(mail.outbox[0].body))
    assert link is not None
    client.force_login(tenant_a.admin)
    form_page = client.get(link.group(1), follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "fresh-daisies-11", "new_password2": "fresh-daisies-11"},
    )
    assert done.status_code == 302
    assert User.unscoped.get(pk=tenant_b.member.pk).check_password("fresh-daisies-11")
    assert "_auth_user_id" not in client.session


def test_a_password_reset_lifts_the_lockout(client: Client, tenant_a: Tenant) -> None:
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": tenant_a.worker.email, "password": "wrong"})
    client.post(reverse("accounts:password_reset"), {"email": tenant_a.worker.email})
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", str(mail.outbox[0].body))
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "fresh-daisies-11", "new_password2": "fresh-daisies-11"},
    )
    response = client.post(
        reverse("accounts:login"), {"username": tenant_a.worker.email, "password": "fresh-daisies-11"}
    )
    assert response.status_code == 302


def test_an_overlong_login_is_a_form_error(client: Client, db: None) -> None:
    response = client.post(reverse("accounts:login"), {"username": "a" * 300 + "@x.test", "password": "x"})
    assert response.status_code == 200
    assert "username" in response.context["form"].errors


def test_login_next_pointing_at_login_does_not_loop(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.member)
    response = client.get(reverse("accounts:login") + "?next=" + reverse("accounts:login"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")


def test_a_platform_operator_can_edit_their_profile(client: Client, db: None) -> None:
    operator = User.objects.create_superuser("ops@ticketflower.test", PASSWORD)
    client.force_login(operator)
    response = client.post(
        reverse("accounts:profile"), {"first_name": "Op", "last_name": "S", "email": operator.email}
    )
    assert response.status_code == 302
    assert User.unscoped.get(pk=operator.pk).first_name == "Op"
    assert client.get(reverse("portal:dashboard")).status_code == 200
