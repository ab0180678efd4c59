"""A person signs up a company, logs in, edits the profile and resets the password."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.e2e.conftest import in_db_thread
from ticketflower.accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "sunflower-fields-2026"


def sign_up(page: Page, base: str, *, password: str) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.get_by_label("Company name").fill("Marigold Movers")
    page.get_by_label("First name").fill("Mara")
    page.get_by_label("Last name").fill("Gold")
    page.get_by_label("Admin e-mail").fill("mara@marigold.test")
    page.get_by_label("Admin password").fill(password)
    page.get_by_role("button", name="Create company").click()


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_sign_up_log_in_edit_profile_and_reset_password(page: Page, live_server: LiveServer) -> None:
    base = live_server.url

    # A weak password is refused with the reason, and nothing is created.
    sign_up(page, base, password="12345")
    expect(page.get_by_text("This password is too short.")).to_be_visible()
    assert not in_db_thread(User.unscoped.exists)

    sign_up(page, base, password=PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("company-name")).to_have_text("Marigold Movers")
    expect(page.get_by_test_id("system-roles")).to_contain_text("Workflow designer")
    expect(page.get_by_test_id("areas")).to_contain_text("Design")

    # Log out, fail once, log in.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    log_in(page, base, "mara@marigold.test", "not-my-password")
    expect(page.get_by_text("That e-mail and password do not match an active account.")).to_be_visible()
    log_in(page, base, "MARA@marigold.test", PASSWORD)
    expect(page.get_by_test_id("user-name")).to_have_text("Mara Gold")

    # An area my roles open: the design site.
    page.get_by_role("link", name="Design").click()
    expect(page.get_by_test_id("dashboard-stats")).to_contain_text("Workflows")

    # Edit the profile.
    page.goto(f"{base}/accounts/profile/")
    page.get_by_label("First name").fill("Marigold")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("user-name")).to_have_text("Marigold Gold")

    # Forget the password and reset it through the e-mailed link.
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("mara@marigold.test")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("an e-mail with a link to choose a new password is on its way")).to_be_visible()
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/password-reset/\S+/", str(mail.outbox[0].body))
    assert link is not None
    page.goto(link.group(0))
    page.locator("input[name=new_password1]").fill("poppy-seeds-3030")
    page.locator("input[name=new_password2]").fill("poppy-seeds-3030")
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_text("Your new password is set.")).to_be_visible()
    page.get_by_role("link", name="Log in").click()
    log_in(page, base, "mara@marigold.test", "poppy-seeds-3030")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.mark.parametrize("path", ["/accounts/signup/", "/accounts/login/", "/accounts/password-reset/"])
def test_public_pages_fit_a_phone(page: Page, live_server: LiveServer, path: str) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    expect(page.get_by_role("button").first).to_be_visible()


def test_pages_for_people_fit_a_phone(page: Page, live_server: LiveServer) -> None:
    sign_up(page, live_server.url, password=PASSWORD)
    page.set_viewport_size({"width": 375, "height": 740})
    for path in ["/", "/accounts/profile/", "/accounts/profile/password/"]:
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_lockout_page_says_what_happened(page: Page, live_server: LiveServer) -> None:
    sign_up(page, live_server.url, password=PASSWORD)
    page.get_by_role("button", name="Log out").click()
    for _ in range(5):
        log_in(page, live_server.url, "mara@marigold.test", "wrong-password")
    expect(page.get_by_text("Try again in 15 minutes, or reset your password.")).to_be_visible()
    log_in(page, live_server.url, "mara@marigold.test", PASSWORD)
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
