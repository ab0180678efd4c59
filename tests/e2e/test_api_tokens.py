"""In Chromium: a person makes an API token on the profile page, copies it, uses it, revokes it."""

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import Tenant, make_tenant
from tests.e2e.conftest import Problems, in_db_thread
from tests.e2e.test_security import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_make_copy_use_and_revoke_a_token(page: Page, live_server: LiveServer, problems: Problems) -> None:
    tenant: Tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    base = live_server.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    log_in(page, base, tenant.member.email)

    page.goto(f"{base}/accounts/profile/")
    expect(page.get_by_text("You have no API tokens.")).to_be_visible()
    page.get_by_label("Token name").fill("backup script")
    page.get_by_role("button", name="Create token").click()

    shown = page.get_by_test_id("new-token")
    expect(page.get_by_text("The token “backup script” is made.")).to_be_visible()
    expect(shown).to_contain_text("Copy it now: it will not be shown again.")
    secret = page.locator("#new-token-secret").inner_text().strip()
    assert secret.startswith("tf_")
    shown.get_by_role("button", name="Copy").click()
    expect(shown.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    tokens = page.get_by_test_id("api-tokens")
    expect(tokens).to_contain_text("backup script")
    expect(tokens).to_contain_text(secret[:12] + "…")  # tf_<prefix>_…
    expect(tokens).to_contain_text("never")  # not used yet

    api = page.request.get(f"{base}/api/v1/ticket-types/", headers={"Authorization": f"Bearer {secret}"})
    assert api.status == 200 and api.json() == []

    # The secret is gone once the page is left; the list now says the token was used.
    page.goto(f"{base}/accounts/profile/")
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(secret)
    expect(page.get_by_test_id("api-tokens").locator("td").nth(3)).not_to_have_text("never")

    page.get_by_role("link", name="Revoke backup script").click()
    expect(page.get_by_text("Revoke the token “backup script”")).to_be_visible()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_text("The token “backup script” is revoked.")).to_be_visible()
    expect(page.get_by_text("You have no API tokens.")).to_be_visible()

    refused = page.request.get(f"{base}/api/v1/ticket-types/", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 401 and refused.json()["detail"] == "This token was revoked."
    assert problems.take() == []


def test_email_choices_are_saved_from_the_profile_page(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    tenant: Tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    base = live_server.url
    log_in(page, base, tenant.member.email)
    page.goto(f"{base}/accounts/profile/")

    choices = page.get_by_test_id("notifications")
    expect(choices.get_by_label("a task is assigned to me")).to_be_checked()
    expect(choices.get_by_label("a task I may claim is waiting")).not_to_be_checked()
    choices.get_by_label("a task I may claim is waiting").check()
    choices.get_by_label("my ticket is finished").uncheck()
    choices.get_by_role("button", name="Update e-mail choices").click()

    expect(page.get_by_text("Your e-mail choices are saved.")).to_be_visible()
    expect(choices.get_by_label("a task I may claim is waiting")).to_be_checked()
    expect(choices.get_by_label("my ticket is finished")).not_to_be_checked()
    assert problems.take() == []
