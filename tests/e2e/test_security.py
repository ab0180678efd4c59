"""In a real browser: no page breaks the Content-Security-Policy, and unfold still works under it.

Every page here runs with the production policy (SECURE_CSP): Alpine's CSP build, no inline
script, no <style> without the nonce. A violation reported by Chromium, an Alpine expression
that cannot run, or an uncaught script error fails the test.
"""

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import Tenant, make_tenant
from tests.e2e.conftest import Problems, in_db_thread
from tests.factories import PASSWORD, make_ticket, make_workflow
from ticketflower.accounts.models import User
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.runtime.models import TaskInstance, TicketInstance
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def open_clean(page: Page, url: str, problems: Problems) -> None:
    """Open a page, let its scripts settle, and fail on anything reported meanwhile."""
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # Alpine initialises and htmx settles right after load
    assert problems.take() == [], url


def seeded_tenant() -> tuple[Tenant, WorkflowDefinition]:
    tenant = make_tenant("Alpha Florists")
    workflow = make_workflow(tenant.designer)
    make_ticket(tenant.member, workflow, worker=tenant.admin)
    return tenant, workflow


def a_ticket_and_its_task(tenant: Tenant) -> tuple[int, int]:
    ticket = TicketInstance.unscoped.get(created_by=tenant.member)
    task = TaskInstance.unscoped.get(workflow_instance=ticket.workflow_instance)
    return ticket.pk, task.pk


def test_the_main_pages_of_every_site_run_without_a_policy_violation(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    tenant, workflow = in_db_thread(seeded_tenant)
    base = live_server.url
    for anonymous in ["/accounts/login/", "/accounts/signup/", "/accounts/password-reset/"]:
        open_clean(page, base + anonymous, problems)

    ticket, task = in_db_thread(lambda: a_ticket_and_its_task(tenant))
    log_in(page, base, tenant.admin.email)  # the admin holds every role
    for url in [
        "/",
        "/accounts/profile/",
        "/design/",
        "/design/definitions/workflowdefinition/",
        f"/design/definitions/workflowdefinition/{workflow.pk}/change/",
        f"/design/definitions/workflowdefinition/{workflow.pk}/history/",
        "/design/definitions/workflowdefinition/upload/",
        "/design/definitions/taskdefinition/add/",
        "/tickets/",
        "/tickets/runtime/activeticket/",
        f"/tickets/runtime/activeticket/{ticket}/change/",
        f"/tickets/runtime/activeticket/{ticket}/hold/",
        "/tickets/runtime/activetask/",
        f"/tickets/runtime/activetask/{task}/change/",
        "/worker/",
        "/worker/runtime/mytask/",
        f"/worker/runtime/mytask/{task}/change/",
        f"/worker/runtime/mytask/{task}/release/",
        "/worker/runtime/pooltask/",
        "/company/",
        "/company/accounts/user/",
        f"/company/accounts/user/{tenant.worker.pk}/change/",
        "/company/tenancy/companyrole/import/",
        "/company/tenancy/companyrole/export/",
    ]:
        open_clean(page, base + url, problems)


def test_the_platform_admin_runs_without_a_policy_violation(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    in_db_thread(lambda: User.objects.create_superuser("ops@platform.test", PASSWORD))
    log_in(page, live_server.url, "ops@platform.test")
    open_clean(page, f"{live_server.url}/admin/", problems)
    open_clean(page, f"{live_server.url}/admin/auth/group/", problems)


def test_an_inline_script_is_refused_and_reported(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    """The detector above sees a violation when one happens (so its silence means something)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
        }"""
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.injected") is None
    assert any("CSP violation: script-src" in message for message in problems.take())


def test_alpine_menus_dropdowns_and_collapsibles_work_under_the_policy(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    tenant, workflow = in_db_thread(seeded_tenant)
    base = live_server.url
    log_in(page, base, tenant.admin.email)

    # The change form's fields show (its active tab is worked out by Alpine) and its form posts
    # back to the page itself (bound from window.location through the CSP shim).
    page.goto(f"{base}/design/definitions/workflowdefinition/{workflow.pk}/change/")
    expect(page.locator("input[name=title]")).to_be_visible()
    form_action = page.locator("#workflowdefinition_form").get_attribute("action")
    assert form_action == f"/design/definitions/workflowdefinition/{workflow.pk}/change/"

    # A collapsed fieldset opens.
    layout = page.locator("[name=display_layout]")
    expect(layout).to_be_hidden()
    page.get_by_text("Display", exact=True).click()
    expect(layout).to_be_visible()

    # The user menu in the sidebar opens.
    expect(page.get_by_role("link", name="Change password")).to_be_hidden()
    page.locator("#nav-sidebar").get_by_text(tenant.admin.email).click()
    expect(page.get_by_role("link", name="Change password")).to_be_visible()
    assert problems.take() == []


def test_a_relations_add_another_pop_up_opens_in_a_frame(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    tenant, _ = in_db_thread(seeded_tenant)
    base = live_server.url
    log_in(page, base, tenant.designer.email)
    page.goto(f"{base}/design/definitions/taskdefinition/add/")
    page.locator("[data-id=related-widget-wrapper-workflow] [x-ref]").click()
    page.get_by_role("link", name="Add another workflow").click()
    popup = page.frame_locator("iframe.related-modal-frame")
    expect(popup.locator("input[name=title]")).to_be_visible()


def test_pagination_links_navigate_under_the_policy(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))

    def many_roles() -> None:
        with company_context(tenant.company):
            CompanyRole.objects.bulk_create(CompanyRole(name=f"Team {n:03}") for n in range(120))

    in_db_thread(many_roles)
    log_in(page, live_server.url, tenant.admin.email)
    page.goto(f"{live_server.url}/company/tenancy/companyrole/")
    page.locator("a", has_text="2").and_(page.locator("[x-data]")).first.click()
    page.wait_for_url("**/companyrole/?p=2")


@pytest.mark.parametrize(
    ("site", "role", "links"),
    [
        ("design", "designer", ["Workflows", "Tasks", "Ticket types", "Upload a bundle"]),
        ("tickets", "ticket_admin", ["Active tickets", "Ticket archive", "Active tasks"]),
        ("worker", "worker", ["My tasks", "Open tasks"]),
        ("company", "admin", ["Company profile", "People", "Company roles"]),
    ],
)
def test_the_sidebar_shows_at_1280_px(
    page: Page, live_server: LiveServer, problems: Problems, site: str, role: str, links: list[str]
) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    log_in(page, live_server.url, getattr(tenant, role).email)
    page.goto(f"{live_server.url}/{site}/")
    assert page.viewport_size == {"width": 1280, "height": 900}
    sidebar = page.locator("#nav-sidebar")
    for name in links:
        expect(sidebar.get_by_role("link", name=name)).to_be_visible()


def test_on_a_phone_the_menu_button_opens_the_sidebar(
    page: Page, live_server: LiveServer, problems: Problems
) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    log_in(page, live_server.url, tenant.designer.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/design/")
    workflows = page.locator("#nav-sidebar").get_by_role("link", name="Workflows")
    expect(workflows).to_be_hidden()
    page.locator("#main").get_by_text("dock_to_right").click()
    expect(workflows).to_be_visible()
    workflows.click()
    page.wait_for_url("**/design/definitions/workflowdefinition/")
