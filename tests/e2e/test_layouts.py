"""Stored React layouts in the sandbox: submitting, doing and showing work, and the fallback.

The layouts here are the designer's own TSX, compiled on publishing and run in a frame of
the sandbox origin (the live server under the host name localhost).
"""

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import Tenant, make_tenant
from tests.e2e.conftest import Problems, in_db_thread
from tests.e2e.test_portal import log_in
from ticketflower.definitions.models import ReleaseTicketType, TicketDefinition
from ticketflower.files.models import FileAttachment, FileUpload
from ticketflower.runtime.models import TaskInstance, TicketInstance
from ticketflower.runtime.services import ticket_submit
from ticketflower.runtime.tests.workflows import publish, review_bundle
from ticketflower.tenancy.context import company_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TICKET_EDIT = """import { useState } from "react";
import { Field, Form, Section, Text, useForm } from "@ticketflower/kit";

export default function Layout() {
  const { values } = useForm();
  const [tips] = useState("Tell us what you need.");
  return (
    <Form>
      <Section title="A layout of our own">
        <Text>{tips}</Text>
        <Field name="item" label="What would you like?" />
        <Field name="count" />
        <Text>{values.item ? `You asked for ${values.item}.` : "Nothing asked yet."}</Text>
      </Section>
    </Form>
  );
}
"""

TICKET_DISPLAY = """import { Field, Form, useForm } from "@ticketflower/kit";

export default function Layout() {
  const { context } = useForm();
  return (
    <Form>
      <h2>Ticket #{context.ticket.id}: shown by its layout</h2>
      <Field name="item" />
      <Field name="count" />
    </Form>
  );
}
"""

TASK_EDIT = """import { Field, Form, useForm } from "@ticketflower/kit";

export default function Layout() {
  const { context } = useForm();
  return (
    <Form>
      <p>Reviewing for ticket #{context.ticket.id}</p>
      <Field name="approved" label="Do we buy it?" />
    </Form>
  );
}
"""

THROWS = """export default function Layout() {
  throw new Error("this layout is broken");
}
"""


def layout_bundle(**layouts: str) -> dict[str, Any]:
    bundle = review_bundle()
    bundle["ticket_types"][0]["edit_layout"] = layouts.get("ticket_edit", TICKET_EDIT)
    bundle["ticket_types"][0]["display_layout"] = layouts.get("ticket_display", TICKET_DISPLAY)
    bundle["workflow"]["tasks"][0]["edit_layout"] = layouts.get("task_edit", TASK_EDIT)
    return bundle


def published(**layouts: str) -> tuple[Tenant, ReleaseTicketType]:
    def make() -> tuple[Tenant, ReleaseTicketType]:
        tenant = make_tenant("Alpha Florists")
        return tenant, publish(tenant.designer, layout_bundle(**layouts))

    return in_db_thread(make)


def frame_of(page: Page, key: str) -> FrameLocator:
    host = page.get_by_test_id(f"layout-{key}")
    expect(host).to_have_attribute("data-state", "ready")
    return host.frame_locator("iframe")


def test_a_ticket_is_submitted_through_its_stored_layout_and_the_server_checks_it(
    page: Page, live_server: LiveServer, layout_sandbox: str, problems: Problems
) -> None:
    tenant, ticket_type = published()
    log_in(page, live_server.url, tenant.member.email)
    page.goto(f"{live_server.url}/submit/{ticket_type.pk}/")

    frame = frame_of(page, "ticket-edit")
    expect(frame.get_by_text("A layout of our own")).to_be_visible()
    expect(page.locator("#ticket-form-fields")).to_be_hidden()  # the generated form is the fallback

    # Required "item" left out: the server's field error comes back into the layout.
    frame.get_by_label("How many").fill("3")
    page.get_by_role("button", name="Submit ticket").click()
    frame = frame_of(page, "ticket-edit")
    expect(frame.locator("[data-field=item]")).to_contain_text("This field is required.")
    expect(frame.get_by_label("How many")).to_have_value("3")  # what was typed is kept
    assert in_db_thread(lambda: TicketInstance.unscoped.count()) == 0

    frame.get_by_label("What would you like?").fill("Laptop")
    expect(frame.get_by_text("You asked for Laptop.")).to_be_visible()  # the layout's own logic
    page.get_by_role("button", name="Submit ticket").click()
    expect(page.get_by_role("heading", name="Ticket submitted")).to_be_visible()

    ticket = in_db_thread(lambda: TicketInstance.unscoped.get())
    assert ticket.data == {"item": "Laptop", "count": 3, "urgent": False}

    # The ticket's page shows it through the display layouts: the type's and the workflow's.
    page.goto(f"{live_server.url}/my-tickets/{ticket.pk}/")
    shown = frame_of(page, "ticket-display")
    expect(shown.get_by_role("heading")).to_have_text(f"Ticket #{ticket.pk}: shown by its layout")
    expect(shown.locator("[data-field=item]")).to_contain_text("Laptop")
    expect(shown.locator("[data-field=count]")).to_contain_text("3")
    steps = frame_of(page, "workflow-display")
    expect(steps.get_by_role("listitem")).to_contain_text(["Review"])  # the default lists the steps
    expect(page.locator("#ticket-answers")).to_be_hidden()


def test_a_worker_completes_a_task_through_its_layout_and_admins_see_the_display(
    page: Page, live_server: LiveServer, layout_sandbox: str, problems: Problems
) -> None:
    tenant, ticket_type = published()

    def submitted() -> TaskInstance:
        ticket = ticket_submit(ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "Desk"})
        with company_context(tenant.company):
            task: TaskInstance = TaskInstance.objects.select_related("workflow_instance__ticket").get(
                workflow_instance=ticket.workflow_instance_id
            )
        return task

    task = in_db_thread(submitted)
    worker = next(user for user in tenant.users if user.pk == task.assigned_to_id)
    log_in(page, live_server.url, worker.email)
    page.goto(f"{live_server.url}/worker/runtime/mytask/{task.pk}/change/")

    # What the task reads, through its (default) display layout; the answer through its own.
    expect(frame_of(page, "task-display").locator("[data-field=item]")).to_contain_text("Desk")
    edit = frame_of(page, "task-edit")
    expect(edit.get_by_text(f"Reviewing for ticket #{task.workflow_instance.ticket.pk}")).to_be_visible()
    edit.locator("[data-field=approved]").get_by_label("Yes").check()
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_text("“Review” is completed.")).to_be_visible()

    done = in_db_thread(lambda: TaskInstance.unscoped.get(pk=task.pk))
    assert done.status == "COMPLETED"
    assert done.output_data == {"approved": True}

    # The ticket admin's ticket page shows the run through the workflow's display layout.
    page.context.clear_cookies()
    log_in(page, live_server.url, tenant.ticket_admin.email)
    ticket_id = task.workflow_instance.ticket.pk
    page.goto(f"{live_server.url}/tickets/runtime/activeticket/{ticket_id}/change/")
    steps = frame_of(page, "workflow-display").get_by_role("listitem")
    expect(steps).to_contain_text(["Review", "Order"])
    # The finished task's page: what it read and what was answered, through the task's layouts.
    page.goto(f"{live_server.url}/tickets/runtime/archivedtask/{task.pk}/change/")
    expect(frame_of(page, "task-display").locator("[data-field=item]")).to_contain_text("Desk")
    answer = frame_of(page, "task-output")
    expect(answer.get_by_text(f"Reviewing for ticket #{ticket_id}")).to_be_visible()
    expect(answer.locator("[data-field=approved]")).to_contain_text("Yes")


def test_a_layout_that_fails_gives_way_to_the_generated_form(
    page: Page, live_server: LiveServer, layout_sandbox: str
) -> None:
    tenant, ticket_type = published(ticket_edit=THROWS)
    log_in(page, live_server.url, tenant.member.email)
    page.goto(f"{live_server.url}/submit/{ticket_type.pk}/")

    host = page.get_by_test_id("layout-ticket-edit")
    expect(host).to_have_attribute("data-state", "failed")
    expect(page.get_by_test_id("layout-failed")).to_contain_text("could not be shown")
    expect(page.get_by_test_id("layout-failed")).to_contain_text("this layout is broken")
    expect(host.locator("iframe")).to_have_count(0)

    page.get_by_label("Item").fill("Chair")
    page.get_by_role("button", name="Submit ticket").click()
    expect(page.get_by_role("heading", name="Ticket submitted")).to_be_visible()
    ticket = in_db_thread(lambda: TicketInstance.unscoped.get())
    assert ticket.data["item"] == "Chair"


def test_without_a_sandbox_origin_pages_show_the_generated_form(page: Page, live_server: LiveServer) -> None:
    tenant, ticket_type = published()
    log_in(page, live_server.url, tenant.member.email)
    page.goto(f"{live_server.url}/submit/{ticket_type.pk}/")

    expect(page.get_by_label("Item")).to_be_visible()
    expect(page.locator("[data-tf-layout]")).to_have_count(0)


def test_a_designer_previews_a_layout_while_writing_it_and_sees_compile_errors(
    page: Page, live_server: LiveServer, layout_sandbox: str, problems: Problems
) -> None:
    tenant, ticket_type = published()

    def definition_id() -> int:
        with company_context(tenant.company):
            return int(TicketDefinition.objects.get(title=ticket_type.title).pk)

    pk = in_db_thread(definition_id)
    log_in(page, live_server.url, tenant.designer.email)
    page.goto(f"{live_server.url}/design/definitions/ticketdefinition/{pk}/change/")
    page.get_by_text("Layouts", exact=True).click()

    # The saved layout shows with sample values, in edit mode and in display mode.
    panel = page.get_by_test_id("layout-preview-edit_layout")
    preview = panel.get_by_test_id("layout-preview")
    expect(preview).to_have_attribute("data-state", "ready")
    frame = preview.frame_locator("iframe")
    expect(frame.get_by_text("A layout of our own")).to_be_visible()
    expect(frame.get_by_label("What would you like?")).to_have_value("text")
    panel.get_by_role("button", name="Display").click()
    expect(
        panel.get_by_test_id("layout-preview").frame_locator("iframe").locator("[data-field=item]")
    ).to_contain_text("text")

    # A mistake while typing: its line and column, and the last good preview stays.
    source = page.locator("textarea[name=edit_layout]")
    source.fill("export default function Layout() {\n  const x = ;\n  return <p>{x}</p>;\n}\n")
    expect(panel.get_by_test_id("layout-problems")).to_have_text('Line 2, column 13: Unexpected ";"')
    # Fixed: the preview follows.
    source.fill('import { Text } from "@ticketflower/kit";\nexport default () => <Text>Brand new</Text>;\n')
    expect(panel.get_by_test_id("layout-problems")).to_have_text("")
    expect(
        panel.get_by_test_id("layout-preview").frame_locator("iframe").get_by_text("Brand new")
    ).to_be_visible()

    # Saving a layout that does not compile is refused with the same words.
    source.fill('import x from "lodash";\nexport default () => null;\n')
    page.get_by_role("button", name="Save", exact=True).click()
    refused = 'Line 1, column 15: Layouts may import only "react" and "@ticketflower/kit", not "lodash".'
    expect(page.locator("ul.errorlist")).to_have_text(refused)

    def saved_layout() -> str:
        with company_context(tenant.company):
            return str(TicketDefinition.objects.get(pk=pk).edit_layout)

    assert in_db_thread(saved_layout) == TICKET_EDIT


def test_a_file_is_uploaded_through_the_layout_and_shown_with_the_ticket(
    page: Page,
    live_server: LiveServer,
    layout_sandbox: str,
    problems: Problems,
    tmp_path: Path,
    settings: Any,
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }

    def make() -> tuple[Tenant, ReleaseTicketType]:
        tenant = make_tenant("Alpha Florists")
        bundle = layout_bundle(
            ticket_edit='import { Field, Form } from "@ticketflower/kit";\n'
            'export default () => <Form><Field name="item" /><Field name="price" /><Field name="quote" /></Form>;\n',
            ticket_display='import { Field, Form } from "@ticketflower/kit";\n'
            'export default () => <Form><Field name="item" /><Field name="quote" /></Form>;\n',
        )
        bundle["workflow"]["fields"].append({"name": "quote", "type": "file", "label": "Supplier's quote"})
        bundle["workflow"]["fields"].append({"name": "price", "type": "number", "label": "Price"})
        bundle["ticket_types"][0]["fields"] += [{"field": "quote"}, {"field": "price"}]
        return tenant, publish(tenant.designer, bundle)

    tenant, ticket_type = in_db_thread(make)
    log_in(page, live_server.url, tenant.member.email)
    page.goto(f"{live_server.url}/submit/{ticket_type.pk}/")

    frame = frame_of(page, "ticket-edit")
    frame.get_by_label("Item").fill("Printer")
    frame.get_by_label("Price").press_sequentially("1.05")  # typed key by key: "1." stays "1."
    expect(frame.get_by_label("Price")).to_have_value("1.05")
    pdf = b"%PDF-1.7\n% a quote\n%%EOF\n"
    frame.locator("[data-field=quote] input[type=file]").set_input_files(
        {"name": "quote.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    expect(frame.locator("[data-field=quote]")).to_contain_text("quote.pdf")
    expect(page.locator("#layout-values")).to_have_value(re.compile(r'"quote":\d+'))
    page.get_by_role("button", name="Submit ticket").click()
    expect(page.get_by_role("heading", name="Ticket submitted")).to_be_visible()

    ticket = in_db_thread(lambda: TicketInstance.unscoped.get())
    upload = in_db_thread(lambda: FileUpload.unscoped.get())
    assert (ticket.data["quote"], ticket.data["price"]) == (upload.pk, 1.05)
    assert (upload.filename, upload.file_type, upload.uploaded_by_id) == (
        "quote.pdf",
        "application/pdf",
        tenant.member.pk,
    )
    assert in_db_thread(lambda: list(FileAttachment.unscoped.values_list("file_id", "ticket_id"))) == [
        (upload.pk, ticket.pk)
    ]

    # The ticket's display layout names the file; the submitter may download it.
    page.goto(f"{live_server.url}/my-tickets/{ticket.pk}/")
    expect(frame_of(page, "ticket-display").locator("[data-field=quote]")).to_contain_text("quote.pdf")
    download = page.request.get(f"{live_server.url}/files/{upload.pk}/")
    assert download.status == 200 and download.body() == pdf


def test_a_layouts_own_submit_button_completes_the_workers_task(
    page: Page, live_server: LiveServer, layout_sandbox: str, problems: Problems
) -> None:
    own_button = (
        'import { Field, Form } from "@ticketflower/kit";\n'
        'export default () => <Form submitLabel="Done, send it"><Field name="approved" /></Form>;\n'
    )
    tenant, ticket_type = published(task_edit=own_button)

    def submitted() -> TaskInstance:
        ticket = ticket_submit(ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "Desk"})
        with company_context(tenant.company):
            task: TaskInstance = TaskInstance.objects.get(workflow_instance=ticket.workflow_instance_id)
        return task

    task = in_db_thread(submitted)
    worker = next(user for user in tenant.users if user.pk == task.assigned_to_id)
    log_in(page, live_server.url, worker.email)
    page.goto(f"{live_server.url}/worker/runtime/mytask/{task.pk}/change/")

    edit = frame_of(page, "task-edit")
    edit.locator("[data-field=approved]").get_by_label("No").check()
    edit.get_by_role("button", name="Done, send it").click()
    expect(page.get_by_text("“Review” is completed.")).to_be_visible()
    done = in_db_thread(lambda: TaskInstance.unscoped.get(pk=task.pk))
    assert (done.status, done.output_data) == ("COMPLETED", {"approved": False})
