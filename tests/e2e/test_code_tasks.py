"""A code task on the design site in a real browser: the editor's live check, and "Try it" through a job."""

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import make_tenant
from tests.e2e.conftest import in_db_thread
from tests.e2e.test_design_editors import collect_errors
from tests.e2e.test_role_sites import log_in, save
from tests.live_parts import job_worker
from ticketflower.definitions.models import TaskDefinition
from ticketflower.definitions.services import bundle_import

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VAT = (
    "def run(input, context):\n"
    "    print('pricing', input)\n"
    "    return {'total': round(input['quantity'] * input['unit_price'] * 1.2, 2)}\n"
)


def code_task() -> TaskDefinition:
    tenant = make_tenant("Alpha Florists")
    bundle = {
        "workflow": {
            "title": "Prices",
            "fields": [
                {"name": "quantity", "type": "integer", "label": "Quantity"},
                {"name": "unit_price", "type": "number", "label": "Unit price"},
                {"name": "total", "type": "number", "label": "Total"},
            ],
            "tasks": [
                {
                    "key": "price",
                    "title": "Work out the total",
                    "type": "CODE",
                    "code": VAT,
                    "input_schema": {"type": "object", "properties": {"quantity": {}, "unit_price": {}}},
                    "output_schema": {"type": "object", "properties": {"total": {"type": "number"}}},
                }
            ],
            "transitions": [{"from": None, "to": "price"}],
        }
    }
    imported = bundle_import(actor=tenant.designer, bundle=bundle)
    assert imported.workflow is not None
    task: TaskDefinition = TaskDefinition.unscoped.get(workflow=imported.workflow)
    task.designer_email = tenant.designer.email  # type: ignore[attr-defined]
    return task


def open_task(page: Page, live_server: LiveServer) -> tuple[TaskDefinition, list[str]]:
    task = in_db_thread(code_task)
    log_in(page, live_server.url, task.designer_email)  # type: ignore[attr-defined]
    errors = collect_errors(page)
    page.goto(f"{live_server.url}/design/definitions/taskdefinition/{task.pk}/change/")
    return task, errors


def test_the_editor_numbers_lines_shows_problems_at_their_place_and_saves_good_code(
    page: Page, live_server: LiveServer
) -> None:
    task, errors = open_task(page, live_server)
    code = page.locator("textarea[name=code]")
    expect(page.get_by_test_id("code-gutter")).to_have_text("1\n2\n3\n4\n")

    code.fill("import json\n\ndef run(input, context):\n    return {'total': (1}\n")
    problems = page.get_by_test_id("code-problems")
    expect(problems).to_have_text(
        "Line 4, column 24: The code does not parse: closing parenthesis '}' does not match opening parenthesis '('."
    )
    problems.get_by_role("button", name="Line 4, column 24", exact=False).click()
    expect(page.get_by_test_id("code-cursor")).to_have_text("Line 4, column 24")
    code.fill("import os\n\ndef run(input, context):\n    return {}\n")
    expect(problems).to_contain_text("Line 1, column 1: import os is not allowed.")

    code.fill("def run(input, context):\n")
    code.press("End")
    code.press("Enter")
    code.press("Tab")
    code.type("return {'total': 1.0}")
    expect(problems).to_be_empty()
    expect(page.get_by_test_id("code-cursor")).to_have_text("Line 3, column 26")
    save(page)
    stored = in_db_thread(lambda: TaskDefinition.unscoped.get(pk=task.pk).code)
    assert stored == "def run(input, context):\n\n    return {'total': 1.0}"
    assert errors == []


def test_try_it_runs_the_editors_code_in_the_sandbox_and_shows_the_answer(
    page: Page, live_server: LiveServer
) -> None:
    task, errors = open_task(page, live_server)
    sample = page.get_by_test_id("code-try-input")
    expect(sample).to_have_value('{\n  "quantity": 1,\n  "unit_price": 1.5\n}')
    sample.fill('{"quantity": 3, "unit_price": 19.99}')
    result = page.get_by_test_id("code-try-result")
    with job_worker():
        page.get_by_test_id("code-try-run").click()
        expect(result).to_contain_text("Done in", timeout=30_000)
    expect(result).to_contain_text('"total": 71.96')
    expect(result).to_contain_text("pricing {'quantity': 3, 'unit_price': 19.99}")

    page.locator("textarea[name=code]").fill(
        "def run(input, context):\n    return {'total': input['price']}\n"
    )
    with job_worker():
        page.get_by_test_id("code-try-run").click()
        expect(result).to_contain_text("KeyError: 'price'", timeout=30_000)
    expect(result).to_contain_text("line 2, in run")

    sample.fill("not json")
    page.get_by_test_id("code-try-run").click()
    expect(result).to_contain_text("The input is not JSON")
    assert in_db_thread(lambda: TaskDefinition.unscoped.get(pk=task.pk).code) == VAT  # tries change nothing
    assert errors == []


def test_the_editor_indents_like_a_code_editor_and_shows_only_the_tasks_own_sections(
    page: Page, live_server: LiveServer
) -> None:
    _, errors = open_task(page, live_server)
    code = page.locator("textarea[name=code]")
    font = code.evaluate("element => getComputedStyle(element).fontFamily")
    assert "monospace" in font
    gutter = page.get_by_test_id("code-gutter")
    assert abs(gutter.bounding_box()["height"] - code.bounding_box()["height"]) < 2  # type: ignore[index]

    code.fill("def run(input, context):")
    code.press("End")
    code.press("Enter")  # after a colon: one level in
    code.type("a = 1")
    code.press("Enter")  # the same level
    code.type("return {'total': a}")
    assert code.input_value() == "def run(input, context):\n    a = 1\n    return {'total': a}"
    code.evaluate("element => element.setSelectionRange(0, element.value.length)")
    code.press("Tab")  # every selected line one level in, nothing lost
    assert code.input_value() == "    def run(input, context):\n        a = 1\n        return {'total': a}"
    code.press("Shift+Tab")
    assert code.input_value() == "def run(input, context):\n    a = 1\n    return {'total': a}"
    code.press("Control+z")  # an indent is undone like typing
    assert code.input_value() == "    def run(input, context):\n        a = 1\n        return {'total': a}"

    http, who, code_section = (
        page.locator("fieldset", has=page.locator(f".field-{name}"))
        for name in ("action_url", "assignment", "code")
    )
    expect(http).to_be_hidden()
    expect(who).to_be_hidden()
    expect(code_section).to_be_visible()
    page.locator("select[name=task_type]").select_option("FORM")
    expect(code_section).to_be_hidden()
    expect(who).to_be_visible()
    page.locator("select[name=task_type]").select_option("SYNC_ACTION")
    expect(http).to_be_visible()
    assert errors == []
