"""A person submits a ticket in the portal, fixes a field error, and follows the ticket.

Also: the submitter's pages fit a 390 px wide phone and break nothing under the
Content-Security-Policy.
"""

import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import Tenant, make_tenant
from tests.e2e.conftest import REPORT_VIOLATIONS, in_db_thread
from tests.factories import PASSWORD, make_release, make_workflow
from ticketflower.runtime.models import TicketInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Set to a directory to keep a full-page screenshot of each page at phone size (to look at).
SCREENSHOTS = os.environ.get("PORTAL_SCREENSHOTS", "")


def published_tenant() -> Tenant:
    """A company whose IT equipment request is published, with a worker to take its first task."""
    tenant = make_tenant("Alpha Florists")
    make_release(tenant.designer, make_workflow(tenant.designer))
    return tenant


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.fixture
def violations(page: Page) -> Iterator[list[str]]:
    """Console errors (CSP violations are reported as such) and uncaught script errors."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(message.text)

    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    yield found


def test_a_person_submits_a_ticket_fixes_a_field_and_follows_it(
    page: Page, live_server: LiveServer, violations: list[str]
) -> None:
    tenant = in_db_thread(published_tenant)
    base = live_server.url
    log_in(page, base, tenant.member.email)

    # From the dashboard to the ticket type's form.
    page.get_by_test_id("areas").get_by_role("link", name=re.compile("Submit a ticket")).click()
    expect(page.get_by_role("heading", name="Submit a ticket")).to_be_visible()
    expect(page.get_by_test_id("ticket-types")).to_contain_text("Workflow: IT equipment request")
    page.get_by_role("link", name=re.compile("Request IT equipment")).click()
    expect(page.get_by_role("heading", name="Request IT equipment")).to_be_visible()
    expect(page.get_by_label("Approved")).to_have_count(0)  # a later task's field is not asked

    # A required answer left out: the field says so and nothing is made.
    page.get_by_label("What do you need?").select_option("Laptop")
    page.get_by_label("Needed by").fill("2026-03-15")
    page.get_by_role("button", name="Submit ticket").click()
    reason = page.locator("[data-field=reason]")
    expect(reason).to_contain_text("This field is required.")
    expect(page.get_by_label("What do you need?")).to_have_value("Laptop")  # kept
    assert in_db_thread(lambda: TicketInstance.unscoped.count()) == 0

    page.get_by_label("Why do you need it?").fill("My old one broke.\nIt will not start.")
    page.get_by_role("button", name="Submit ticket").click()

    # The confirmation, then the ticket.
    expect(page.get_by_test_id("submitted")).to_contain_text("is submitted")
    expect(page.get_by_test_id("now-at")).to_contain_text("Manager approval")
    ticket_id = in_db_thread(lambda: TicketInstance.unscoped.get().pk)
    page.get_by_role("link", name="Open the ticket").click()
    expect(page.get_by_role("heading", name=f"Request IT equipment #{ticket_id}")).to_be_visible()
    answers = page.get_by_test_id("answers")
    expect(answers).to_contain_text("What do you need?")
    expect(answers).to_contain_text("Laptop")
    expect(answers).to_contain_text("March 15, 2026")
    expect(answers).to_contain_text("It will not start.")
    expect(page.get_by_test_id("tasks")).to_contain_text("Manager approval")
    expect(page.get_by_test_id("history")).to_contain_text("Submitted")
    expect(page.get_by_test_id("ticket-status")).to_contain_text("In progress")

    # My tickets lists it under Active, not under Closed; its row opens it again.
    page.get_by_role("link", name="My tickets").first.click()
    row = page.get_by_test_id("ticket-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"Request IT equipment #{ticket_id}")
    expect(row).to_contain_text("Now at: Manager approval")
    page.get_by_test_id("tabs").get_by_role("link", name="Closed").click()
    expect(page.get_by_test_id("no-tickets")).to_be_visible()
    page.get_by_test_id("tabs").get_by_role("link", name="Active").click()
    page.get_by_text("Filter and sort").click()
    page.get_by_label("Sort by").select_option("type")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"sort=type"))
    page.get_by_test_id("ticket-row").click()
    expect(page.get_by_role("heading", name=f"Request IT equipment #{ticket_id}")).to_be_visible()

    assert violations == []


def fits_a_phone(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{what} is {width} px wide"
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(
            path=f"{SCREENSHOTS}/{what.strip('/').replace('/', '_') or 'home'}.png", full_page=True
        )


def test_the_submitters_pages_fit_a_phone(page: Page, live_server: LiveServer, violations: list[str]) -> None:
    tenant = in_db_thread(published_tenant)
    base = live_server.url
    log_in(page, base, tenant.member.email)
    page.set_viewport_size({"width": 390, "height": 844})

    for path in ["/", "/submit/"]:
        page.goto(base + path)
        fits_a_phone(page, path)
    page.get_by_role("link", name=re.compile("Request IT equipment")).click()
    fits_a_phone(page, "the form")
    page.get_by_role("button", name="Submit ticket").click()
    expect(page.locator("[data-field=reason]")).to_contain_text("This field is required.")
    fits_a_phone(page, "the form with errors")
    page.get_by_label("What do you need?").select_option("Monitor")
    page.get_by_label("Why do you need it?").fill("A second screen, " * 20)
    page.get_by_role("button", name="Submit ticket").click()
    expect(page.get_by_test_id("submitted")).to_be_visible()
    fits_a_phone(page, "the confirmation")
    ticket_id = in_db_thread(lambda: TicketInstance.unscoped.get().pk)
    for path in ["/my-tickets/", f"/my-tickets/{ticket_id}/"]:
        page.goto(base + path)
        fits_a_phone(page, path)
    assert violations == []
