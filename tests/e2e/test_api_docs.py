"""The API docs page in Chromium: Swagger UI lists the operations under the site's strict CSP."""

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.e2e.conftest import Problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_page_lists_the_operations_without_a_policy_violation(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert response is not None and response.status == 200
    policy = dict([*d.split(" ", 1), ""][:2] for d in response.headers["content-security-policy"].split("; "))
    assert policy["script-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"  # Swagger UI's icons; this page only

    operation = page.locator(".opblock", has_text="/api/v1/ticket-types/")
    expect(operation).to_be_visible()
    expect(operation.locator(".opblock-summary-method")).to_have_text("GET")
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()

    # Open the operation: its responses, the error shape among them, render too.
    operation.locator(".opblock-summary").click()
    expect(operation.locator(".responses-table")).to_contain_text("401")
    page.wait_for_timeout(200)
    assert problems.take() == []
