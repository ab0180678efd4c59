"""From a pasted outline to a ticket worked on: the assistant, in a real browser, with a real job worker.

A new company signs up, its admin (every role) pastes a laundry-service outline into the
assistant, checks the proposal (diagram, a working form preview), asks for a change, saves,
publishes, gives themselves the driver's role, submits a ticket through the generated layout
and completes the first task as the driver.
"""

import pytest
from playwright.sync_api import FrameLocator, Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.e2e.conftest import Problems, in_db_thread
from tests.e2e.test_accounts import PASSWORD, sign_up
from tests.live_parts import job_worker
from ticketflower.assistant.models import Conversation
from ticketflower.runtime.models import TaskInstance, TaskStatus, TicketInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUTLINE = """Laundry pickup
Customers ask us to collect their laundry and bring it back clean.

The form asks for:
- Customer name
- Phone
- Address
- How many bags
- Pickup date
- Service: one of wash and fold, dry cleaning, ironing
- Photo of stains (optional)

Steps:
1. Driver picks up the laundry and records the weight in kg.
2. Washer washes it and records damaged items (yes/no).
   If damaged items is yes, go to step 3, otherwise go to step 4.
3. Manager calls the customer and records the outcome.
4. Driver delivers the laundry. Then the ticket is closed.
"""


def ready_frame(host: Locator) -> FrameLocator:
    layout = host.locator("[data-tf-layout]")
    expect(layout).to_have_attribute("data-state", "ready")
    return layout.frame_locator("iframe")


def test_a_new_company_goes_from_an_outline_to_a_ticket_worked_on(
    page: Page, live_server: LiveServer, layout_sandbox: str, problems: Problems
) -> None:
    base = live_server.url
    sign_up(page, base, password=PASSWORD)
    expect(
        page.get_by_role("heading", name="Your tickets").or_(page.get_by_text("Marigold Movers")).first
    ).to_be_visible()

    with job_worker():
        page.goto(f"{base}/design/")
        page.locator("#nav-sidebar").get_by_role("link", name="Assistant").click()
        page.get_by_label("Message").fill(OUTLINE)
        page.get_by_role("button", name="Propose a workflow").click()

        # The proposal: its diagram, its fields, and the submit form live with sample values.
        expect(page.get_by_test_id("workflow-graph")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("workflow-graph")).to_contain_text("Driver picks up the laundry")
        expect(page.get_by_test_id("proposal-fields")).to_contain_text("Photo of stains")
        form = ready_frame(page.get_by_test_id("proposal-layout").first)
        expect(form.get_by_label("Customer name")).to_be_visible()
        expect(form.get_by_label("Service")).to_have_value("Wash and fold")  # sample values
        expect(page.get_by_test_id("proposal-new-roles")).to_contain_text("Driver, Washer, Manager")

        # A change in plain words: a revised proposal.
        page.get_by_label("Message").fill("remove the photo field")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_test_id("message-assistant").last).to_contain_text(
            "The form no longer asks for “Photo of stains”.", timeout=30_000
        )
        expect(page.get_by_test_id("proposal-fields")).not_to_contain_text("Photo of stains")

        page.get_by_role("button", name="Save as draft").click()
        expect(page.get_by_text("Saved as draft version 1 of “Laundry pickup”.")).to_be_visible()
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_text("Published release #1.")).to_be_visible()
        try_it = page.get_by_test_id("try-it")
        expect(try_it).to_have_text("Try it: Laundry pickup")
        submit_url = try_it.get_attribute("href")
        conversation_url = page.url

        # The driver's role (made on save) for the admin, who is a task worker too.
        page.goto(f"{base}/company/accounts/user/")
        page.locator("#result_list").get_by_role("link", name="mara@marigold.test").click()
        page.get_by_label("Driver", exact=True).check()
        page.locator("button[name=_save]").click()
        expect(page.locator("#result_list")).to_be_visible()

        # Try it: a ticket through the generated layout.
        page.goto(f"{base}{submit_url}")
        frame = ready_frame(page.locator("body"))
        expect(frame.get_by_label("Photo of stains")).to_have_count(0)
        frame.get_by_label("Customer name").fill("Rosa Diaz")
        frame.get_by_label("Phone").fill("+31 6 1234 5678")
        frame.get_by_label("Address").fill("Tulip Lane 4")
        frame.get_by_label("How many bags").fill("3")
        frame.get_by_label("Pickup date").fill("2026-12-24")
        frame.get_by_label("Service").select_option("Dry cleaning")
        page.get_by_role("button", name="Submit ticket").click()
        expect(page.get_by_role("heading", name="Ticket submitted")).to_be_visible()
        ticket = in_db_thread(lambda: TicketInstance.unscoped.get())
        assert ticket.data["service"] == "Dry cleaning" and ticket.data["how_many_bags"] == 3

        # The driver's first task, done through its generated form.
        page.goto(f"{base}/worker/runtime/mytask/")
        page.locator("#result_list").get_by_role("link", name="Driver picks up the laundry").click()
        edit = ready_frame(page.get_by_test_id("layout-task-edit").locator(".."))
        edit.get_by_label("Weight in kg").fill("7.5")
        page.get_by_role("button", name="Complete").click()
        expect(page.get_by_text("“Driver picks up the laundry” is completed.")).to_be_visible()

    first = in_db_thread(
        lambda: TaskInstance.unscoped.get(
            workflow_instance__ticket=ticket, task_key="driver_picks_up_the_laundry"
        )
    )
    assert (first.status, first.output_data) == (TaskStatus.COMPLETED, {"weight_kg": 7.5})
    conversation = in_db_thread(lambda: Conversation.unscoped.get())
    assert conversation_url.endswith(f"/design/assistant/conversation/{conversation.pk}/")
    assert conversation.saved_version == 1
