"""Each role uses its admin site in a real browser."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import make_tenant
from tests.e2e.conftest import in_db_thread
from tests.factories import PASSWORD, load_bundle, make_release, make_ticket, make_workflow
from ticketflower.accounts.models import User
from ticketflower.definitions.models import WorkflowDefinition, WorkflowRelease, WorkflowTransition
from ticketflower.definitions.services import bundle_import

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIELDS = [
    {"name": "item", "type": "text", "label": "Item"},
    {"name": "approved", "type": "boolean", "label": "Approved"},
]


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def save(page: Page) -> None:
    page.locator("button[name=_continue]").click()


def test_a_designer_builds_a_branching_workflow_in_one_save_fixes_it_publishes_and_reverts(
    page: Page, live_server: LiveServer
) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    base = live_server.url
    log_in(page, base, tenant.designer.email)
    page.goto(f"{base}/design/definitions/workflowdefinition/add/")
    page.locator("input[name=title]").fill("Laptop request")
    for index, spec in enumerate(FIELDS):  # the name follows the label
        page.locator(f"input[name=fields-{index}-label]").fill(spec["label"])
        page.locator(f"select[name=fields-{index}-type]").select_option(spec["type"])

    # Three tasks, keys left to be made from the titles...
    for index, title in enumerate(["Approve", "Order it", "Decline"]):
        page.locator("#tasks-group").get_by_text("Add another").click()
        page.locator(f"input[name=tasks-{index}-title]").fill(title)
    # ...and, on the same page, a start and a branch pointing at them, with a typo in one condition.
    transitions = [
        ("", "approve", ""),
        ("Approve", "order_it", "data.approved"),
        ("approve", "Decline", "!data.approved &&"),
    ]
    for index, (source, target, condition) in enumerate(transitions):
        page.locator("#transitions-group").get_by_text("Add another").click()
        page.locator(f"input[name=transitions-{index}-source]").fill(source)
        page.locator(f"input[name=transitions-{index}-target]").fill(target)
        page.locator(f"[name=transitions-{index}-condition]").fill(condition)
        page.locator(f"input[name=transitions-{index}-priority]").fill(str(index))
    save(page)
    expect(page.get_by_text("Saved as draft version 1. Not published yet;")).to_be_visible()
    expect(
        page.get_by_text("Transition 3 (Approve → Decline), condition: The condition does not parse").first
    ).to_be_visible()
    expect(page.locator("input[name=tasks-2-key]")).to_have_value("decline")
    # Allowed, but probably not meant: said, without blocking anything.
    expect(page.get_by_test_id("draft-warnings")).to_contain_text(
        "Task 1 (“Approve”), output schema: Nothing to fill in"
    )
    # The draft as a picture: a box per task, the start, the branch's conditions.
    graph = page.get_by_test_id("workflow-graph")
    for text in ["Start", "Approve", "Order it", "Decline", "data.approved"]:
        expect(graph.locator("svg")).to_contain_text(text)

    # Fix it: ready to publish.
    page.locator("[name=transitions-2-condition]").fill("!data.approved")
    save(page)
    expect(
        page.get_by_text("Saved as draft version 2. Not published yet; draft version 2 is ready to publish.")
    ).to_be_visible()

    # Publish, with a note, from the page's action.
    page.get_by_role("link", name="Publish").first.click()
    page.locator("textarea[name=note]").fill("First release")
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.get_by_text("Published release #1.")).to_be_visible()
    expect(page.get_by_test_id("workflow-status-summary")).to_have_text(
        "Release #1 is live; the draft (version 2) is what it publishes."
    )
    expect(page.get_by_test_id("release-list")).to_contain_text("First release")

    # Revert the draft to the version with the typo, from the history page: the release stays.
    page.get_by_role("link", name="History").first.click()
    page.locator("tr", has_text="Added transition").locator("a[href*='/history/']").click()
    page.locator("button[name=_save], input[name=_save]").first.click()
    expect(page.get_by_text("Saved as draft version 3. Release #1 is live;").first).to_be_visible()
    conditions = in_db_thread(
        lambda: list(
            WorkflowTransition.unscoped.filter(workflow__title="Laptop request").values_list(
                "condition", flat=True
            )
        )
    )
    assert "!data.approved &&" in conditions  # back to the revision before the fix
    assert in_db_thread(lambda: WorkflowDefinition.unscoped.get(title="Laptop request").version) == 3
    frozen = in_db_thread(
        lambda: WorkflowRelease.unscoped.get().bundle["workflow"]["transitions"][2]["condition"]
    )
    assert frozen == "!data.approved"


def test_a_designer_uploads_a_broken_bundle_then_a_good_one(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    base = live_server.url
    good = (
        Path(__file__).resolve().parents[2] / "fixtures" / "bundles" / "it-equipment-request.yaml"
    ).read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(good.replace("condition: data.approved == true", "condition: data.approved =="))
    fine = tmp_path / "good.yaml"
    fine.write_text(good)

    log_in(page, base, tenant.designer.email)
    page.goto(f"{base}/design/definitions/workflowdefinition/upload/")
    page.locator("input[name=file]").set_input_files(str(broken))
    page.get_by_role("button", name="Check the file").click()
    problems = page.get_by_test_id("upload-problems")
    expect(problems).to_contain_text("Transition 2 (Manager approval → Order the equipment), condition:")
    expect(problems).to_contain_text("workflow.transitions[1].condition")
    assert not in_db_thread(WorkflowDefinition.unscoped.exists)

    page.locator("input[name=file]").set_input_files(str(fine))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_test_id("upload-preview")).to_contain_text("task “approve”")
    page.get_by_role("button", name="Confirm upload").click()
    expect(page.get_by_text("Uploaded into the draft:")).to_be_visible()
    expect(page.get_by_test_id("workflow-status-summary")).to_contain_text("Not published yet")
    assert in_db_thread(lambda: WorkflowDefinition.unscoped.get().title) == "IT equipment request"


def test_a_company_admin_adds_a_worker_with_roles(page: Page, live_server: LiveServer) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    base = live_server.url
    log_in(page, base, tenant.admin.email)
    page.goto(f"{base}/company/accounts/user/add/")
    page.locator("input[name=email]").fill("nia@alpha.test")
    page.locator("input[name=first_name]").fill("Nia")
    page.locator("input[name=last_name]").fill("New")
    page.locator("input[name=password]").fill("tulips-in-the-rain-42")
    page.locator("input[name=system_roles][value=task_worker]").check()
    page.locator("input[name=roles]").first.check()
    page.locator("button[name=_save]").click()
    expect(page.get_by_text("nia@alpha.test")).to_be_visible()
    worker = in_db_thread(lambda: User.unscoped.get(email="nia@alpha.test"))
    assert in_db_thread(lambda: set(worker.system_roles)) == {"task_worker"}


def test_a_ticket_admin_and_a_worker_see_their_lists(page: Page, live_server: LiveServer) -> None:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    in_db_thread(lambda: make_ticket(tenant.member, make_workflow(tenant.designer), worker=tenant.worker))
    base = live_server.url

    log_in(page, base, tenant.ticket_admin.email)
    page.goto(f"{base}/tickets/")
    expect(page.get_by_test_id("dashboard-stats")).to_contain_text("Open tickets")
    page.goto(f"{base}/tickets/runtime/activeticket/")
    expect(page.locator("#result_list")).to_contain_text("Request IT equipment")
    page.goto(f"{base}/tickets/runtime/activetask/")
    expect(page.locator("#result_list")).to_contain_text("Manager approval")
    page.get_by_role("button", name="Log out").click() if page.get_by_role(
        "button", name="Log out"
    ).count() else None

    page.context.clear_cookies()
    log_in(page, base, tenant.worker.email)
    page.goto(f"{base}/worker/runtime/mytask/")
    expect(page.locator("#result_list")).to_contain_text("Manager approval")
    # The worker has no ticket-admin site.
    assert page.goto(f"{base}/tickets/").status == 404  # type: ignore[union-attr]


def test_a_designer_reads_a_release_and_rolls_back_to_it(page: Page, live_server: LiveServer) -> None:
    def published_twice() -> tuple[int, int]:
        tenant = make_tenant("Alpha Florists")
        workflow = make_workflow(tenant.designer)
        first = make_release(tenant.designer, workflow)
        bundle = load_bundle("it-equipment-request.yaml")
        bundle["workflow"]["description"] = "Now with a second thought"
        bundle_import(actor=tenant.designer, bundle=bundle, into=workflow)
        make_release(tenant.designer, workflow)
        return workflow.pk, first.pk

    workflow_pk, first_pk = in_db_thread(published_twice)
    base = live_server.url
    log_in(page, base, "designer@alpha-florists.test")
    page.goto(f"{base}/design/definitions/workflowdefinition/{workflow_pk}/change/")
    expect(page.get_by_test_id("workflow-status-summary")).to_have_text(
        "Release #2 is live; the draft (version 2) is what it publishes."
    )
    page.get_by_test_id("release-list").get_by_role("link", name="#1").click()
    expect(page.get_by_test_id("release-diff")).to_have_text("The first release of this workflow.")
    expect(page.get_by_test_id("workflow-graph").locator("svg")).to_contain_text("Manager approval")
    page.get_by_role("link", name="Roll back to this release").click()
    expect(page.get_by_test_id("confirm-detail")).to_contain_text("The draft stays as it is.")
    page.locator("textarea[name=note]").fill("The second thought was wrong")
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.get_by_text("Published release #3.")).to_be_visible()
    expect(page.get_by_test_id("release-diff")).to_contain_text(
        '-    "description": "Now with a second thought",'
    )
    rolled_back = in_db_thread(lambda: WorkflowRelease.unscoped.get(number=3))
    assert (rolled_back.rolled_back_to_id, rolled_back.note) == (first_pk, "The second thought was wrong")
