"""A company admin manages the HTTP action settings: reveals and rotates the signing secret."""

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import make_tenant
from tests.e2e.conftest import REPORT_VIOLATIONS, in_db_thread
from tests.e2e.test_design_editors import collect_errors
from tests.e2e.test_role_sites import log_in
from ticketflower.admin_sites.company import MASKED_SECRET
from ticketflower.tenancy.models import Company

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_company_admin_reveals_and_rotates_the_signing_secret(page: Page, live_server: LiveServer) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    company_pk = tenant.company.pk

    def stored() -> str:
        return in_db_thread(lambda: Company.unscoped.get(pk=company_pk).webhook_secret)

    old = stored()
    base = live_server.url
    page.add_init_script(REPORT_VIOLATIONS)
    errors = collect_errors(page)
    log_in(page, base, tenant.admin.email)
    page.goto(f"{base}/company/tenancy/company/{company_pk}/change/")
    secret = page.get_by_test_id("signing-secret")
    expect(secret).to_have_text(MASKED_SECRET)
    page.get_by_role("button", name="Reveal").click()
    expect(secret).to_have_text(old)
    page.get_by_role("button", name="Hide").click()
    expect(secret).to_have_text(MASKED_SECRET)

    page.get_by_role("link", name="Rotate signing secret").click()
    expect(page.get_by_test_id("confirm-detail")).to_contain_text("the current one stops working at once")
    assert stored() == old  # asking changes nothing
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.get_by_text("New signing secret made.")).to_be_visible()
    new = stored()
    assert new != old
    page.get_by_role("button", name="Reveal").click()
    expect(page.get_by_test_id("signing-secret")).to_have_text(new)
    assert errors == []  # the reveal script runs under the page's Content-Security-Policy
