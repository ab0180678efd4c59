"""Doing the work in a real browser: a worker does and claims tasks, a ticket admin steps in."""

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import make_tenant
from tests.e2e.conftest import in_db_thread
from tests.e2e.test_role_sites import log_in
from tests.live_parts import Endpoint, Reply, job_worker, wait_until
from ticketflower.admin_sites.tests.work import action_in_error, review_ticket, run_of, task_now, to_pool
from ticketflower.runtime import services
from ticketflower.runtime.models import TaskStatus, WorkflowStatus
from ticketflower.runtime.tests.test_actions import action, order_bundle
from ticketflower.runtime.tests.workflows import current, publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_worker_fixes_a_field_error_completes_the_task_and_the_next_one_starts(
    page: Page, live_server: LiveServer
) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    ticket = in_db_thread(lambda: review_ticket(tenant))
    base = live_server.url
    log_in(page, base, tenant.worker.email)
    page.goto(f"{base}/worker/")
    page.locator("#nav-sidebar").get_by_role("link", name="My tasks").click()
    page.locator("#result_list").get_by_role("link", name="Review").click()

    expect(page.get_by_test_id("task-description")).to_contain_text("Check the item against the budget.")
    expect(page.get_by_test_id("task-links").get_by_role("link", name="Budget rules")).to_be_visible()
    expect(page.get_by_test_id("task-input")).to_contain_text("Desk")
    expect(page.get_by_test_id("task-ticket")).to_contain_text(tenant.member.email)

    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_test_id("task-form")).to_contain_text("This field is required.")
    page.get_by_test_id("task-form").get_by_label("Yes").check()
    page.get_by_role("button", name="Complete").click()

    expect(page.get_by_text("“Review” is completed.")).to_be_visible()
    page.wait_for_url(f"{base}/worker/runtime/mytask/")
    assert in_db_thread(lambda: current(ticket).task_key) == "order"


def test_a_worker_claims_a_task_from_the_pool(page: Page, live_server: LiveServer) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    task = in_db_thread(lambda: to_pool(current(review_ticket(tenant))))
    base = live_server.url
    log_in(page, base, tenant.worker.email)
    page.goto(f"{base}/worker/")
    page.locator("#nav-sidebar").get_by_role("link", name="Open tasks").click()
    page.get_by_test_id(f"claim-{task.pk}").click()

    expect(page.get_by_text("“Review” is yours now.")).to_be_visible()
    expect(page.get_by_test_id("task-form")).to_be_visible()  # straight on the task's own page
    claimed = in_db_thread(lambda: task_now(task))
    assert (claimed.status, claimed.assigned_to_id) == (TaskStatus.OPEN, tenant.worker.pk)


def test_a_ticket_admin_holds_and_resumes_a_ticket(page: Page, live_server: LiveServer) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    ticket = in_db_thread(lambda: review_ticket(tenant))
    base = live_server.url
    log_in(page, base, tenant.ticket_admin.email)
    page.goto(f"{base}/tickets/")
    page.locator("#nav-sidebar").get_by_role("link", name="Active tickets").click()
    page.locator("#result_list").get_by_role("link", name=str(ticket)).click()

    page.get_by_role("link", name="Put on hold").click()
    page.locator("textarea[name=note]").fill("Waiting for the budget")
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.get_by_text("The ticket is on hold.")).to_be_visible()
    expect(page.get_by_test_id("ticket-history")).to_contain_text("Waiting for the budget")
    expect(page.get_by_role("link", name="Put on hold")).to_have_count(0)
    assert in_db_thread(lambda: run_of(ticket).status) == WorkflowStatus.ON_HOLD

    page.get_by_role("link", name="Resume").click()
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.get_by_text("The ticket goes on.")).to_be_visible()
    assert in_db_thread(lambda: run_of(ticket).status) == WorkflowStatus.IN_PROGRESS


def test_a_ticket_admin_skips_a_task_in_error_with_its_output(page: Page, live_server: LiveServer) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    task = in_db_thread(lambda: action_in_error(tenant))
    ticket = in_db_thread(lambda: task_now(task).workflow_instance.ticket)
    base = live_server.url
    log_in(page, base, tenant.ticket_admin.email)
    page.goto(f"{base}/tickets/runtime/activeticket/{ticket.pk}/change/")
    expect(page.get_by_text("HTTP 503 (gave up after 3 tries)").first).to_be_visible()

    page.get_by_test_id(f"task-row-{task.pk}").get_by_role("link", name="Skip").click()
    page.get_by_label("Order number").fill("PO-1")
    page.get_by_role("button", name="Skip it").click()

    expect(page.get_by_text("“Order” is skipped; the ticket goes on.")).to_be_visible()
    expect(page.get_by_test_id("ticket-data")).to_contain_text("PO-1")
    assert in_db_thread(lambda: task_now(task).status) == TaskStatus.COMPLETED
    assert in_db_thread(lambda: run_of(ticket).status) == WorkflowStatus.COMPLETED


def test_a_ticket_admin_retries_an_action_that_failed_and_a_worker_completes_it(
    page: Page, live_server: LiveServer
) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    replies = [Reply(422, {"error": "unknown item"}), Reply(200, {"id": "S-9"})]
    with Endpoint(*replies) as endpoint, job_worker():
        ticket_type = in_db_thread(lambda: publish(tenant.designer, order_bundle(action(endpoint.url))))
        ticket = in_db_thread(
            lambda: services.ticket_submit(
                ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "Desk"}
            )
        )
        wait_until(
            lambda: in_db_thread(lambda: current(ticket).status) == TaskStatus.ERROR, what="the failure"
        )

        base = live_server.url
        log_in(page, base, tenant.ticket_admin.email)
        page.goto(f"{base}/tickets/runtime/activeticket/{ticket.pk}/change/")
        task = in_db_thread(lambda: current(ticket))
        row = page.get_by_test_id(f"task-row-{task.pk}")
        expect(row).to_contain_text("422")
        row.get_by_role("link", name="Retry").click()
        page.get_by_role("button", name="Yes, go ahead").click()
        expect(page.get_by_text("“Place the order” is tried again.")).to_be_visible()

        wait_until(
            lambda: in_db_thread(lambda: run_of(ticket).status) == WorkflowStatus.COMPLETED, what="the retry"
        )
    page.goto(f"{base}/tickets/runtime/archivedticket/{ticket.pk}/change/")  # done: in the archive
    expect(page.get_by_test_id("ticket-data")).to_contain_text("S-9")
    assert len(endpoint.received) == 2
