"""The design site's editing aids in a real browser: the fields editor and the workflow graph."""

import os
from pathlib import Path
from typing import Any

import pytest
from django.template.loader import render_to_string
from playwright.sync_api import ConsoleMessage, Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import make_tenant
from tests.e2e.conftest import in_db_thread
from tests.e2e.test_role_sites import log_in, save
from tests.factories import load_bundle, make_company_role, make_workflow
from ticketflower.admin_sites.fields_editor import field_name_from_label
from ticketflower.definitions.models import WorkflowDefinition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADD_WORKFLOW = "/design/definitions/workflowdefinition/add/"


def collect_errors(page: Page) -> list[str]:
    """Uncaught exceptions and console errors (a CSP refusal is one) of the page, as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", on_console)
    return errors


def open_new_workflow(page: Page, live_server: LiveServer) -> list[str]:
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    log_in(page, live_server.url, tenant.designer.email)
    errors = collect_errors(page)
    page.goto(f"{live_server.url}{ADD_WORKFLOW}")
    return errors


def test_a_designer_adds_two_fields_with_the_editor_and_the_bundles_field_list_is_saved(
    page: Page, live_server: LiveServer
) -> None:
    errors = open_new_workflow(page, live_server)
    page.locator("input[name=title]").fill("Laptop request")

    page.get_by_label("Row 1: label").fill("Laptop model")
    expect(page.get_by_label("Row 1: name")).to_have_value("laptop_model")
    page.get_by_label("Row 1: type").select_option(label="One from a list")
    page.get_by_label("Row 1: options").fill("13 inch, 15 inch")
    page.locator("input[name=fields-0-required]").check()

    page.get_by_role("button", name="Add a field").click()
    page.get_by_label("Row 4: label").fill("Needed by")
    page.get_by_label("Row 4: type").select_option(label="Date")
    expect(page.get_by_label("Row 4: options")).to_be_hidden()
    save(page)

    expect(page.get_by_label("Row 2: name")).to_have_value("needed_by")
    stored = in_db_thread(lambda: WorkflowDefinition.unscoped.get(title="Laptop request").fields)
    assert stored == [
        {
            "name": "laptop_model",
            "type": "choice",
            "label": "Laptop model",
            "required": True,
            "options": ["13 inch", "15 inch"],
        },
        {"name": "needed_by", "type": "date", "label": "Needed by"},
    ]
    assert errors == []


def test_the_page_makes_the_same_name_from_a_label_as_the_server(page: Page, live_server: LiveServer) -> None:
    open_new_workflow(page, live_server)
    labels = ["Laptop model", "  What do you need? ", "Café crème (EUR)", "2nd reviewer", "a" * 80 + " b"]
    made = []
    for label in labels:
        page.get_by_label("Row 1: label").fill(label)
        made.append(page.get_by_label("Row 1: name").input_value())
    assert made == [field_name_from_label(label) for label in labels]


def test_a_name_typed_by_hand_is_kept_when_the_label_changes(page: Page, live_server: LiveServer) -> None:
    open_new_workflow(page, live_server)
    page.get_by_label("Row 1: label").fill("Laptop")
    page.get_by_label("Row 1: name").fill("device")
    page.get_by_label("Row 1: label").fill("Laptop model")
    expect(page.get_by_label("Row 1: name")).to_have_value("device")


def test_the_options_box_shows_only_for_list_types(page: Page, live_server: LiveServer) -> None:
    open_new_workflow(page, live_server)
    options = page.get_by_label("Row 1: options")
    expect(options).to_be_hidden()
    page.get_by_label("Row 1: type").select_option(label="Several from a list")
    expect(options).to_be_visible()


# --- the workflow graph -------------------------------------------------------------------------

CSP_PAGE = """<!doctype html>
<html lang="en"><head>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'none'; style-src 'self'">
</head><body>{graph}</body></html>"""


def show_graph_on_a_workflow_page(page: Page, live_server: LiveServer, sample: str, theme: str) -> None:
    """The sample's graph placed at the top of its workflow's change page on the design site."""
    tenant = in_db_thread(lambda: make_tenant("Alpha Florists"))
    in_db_thread(lambda: make_company_role(tenant.company, "Staff"))  # the purchase order's submitters
    in_db_thread(lambda: make_company_role(tenant.company, "Finance"))  # and its approvers
    workflow = in_db_thread(lambda: make_workflow(tenant.designer, f"{sample}.yaml"))
    page.emulate_media(color_scheme="dark" if theme == "dark" else "light")
    log_in(page, live_server.url, tenant.designer.email)
    page.goto(f"{live_server.url}/design/definitions/workflowdefinition/{workflow.pk}/change/")
    graph = render_to_string("admin_sites/workflow_graph.html", {"bundle": load_bundle(f"{sample}.yaml")})
    page.evaluate(
        "(graph) => document.querySelector('#content-main').insertAdjacentHTML('afterbegin', graph)", graph
    )


def graph_geometry(page: Page) -> dict[str, Any]:
    """Each text's box, each task's box and the drawing's text colour, as the browser lays them out."""
    return dict(
        page.evaluate(
            """() => {
        const svg = document.querySelector("svg.tf-graph");
        const box = (e) => { const b = e.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
        return {
            colour: getComputedStyle(svg).color,
            tasks: [...svg.querySelectorAll("g.tf-task")].map((g) => ({
                rect: box(g.querySelector("rect")),
                texts: [...g.querySelectorAll("text")].map(box),
            })),
            texts: [...svg.querySelectorAll("text")].map((t) => [t.textContent, box(t)]),
        };
    }"""
        )
    )


def lightness(colour: str) -> float:
    """0 (black) to 1 (white), from a computed CSS colour: unfold's are oklch(), others rgb()."""
    numbers = [float(part) for part in colour[colour.index("(") + 1 : -1].replace(",", " ").split()[:3]]
    return numbers[0] if colour.startswith("oklch") else sum(numbers) / 765


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("sample", ["it-equipment-request", "customer-complaint", "purchase-order"])
def test_a_sample_graph_reads_cleanly_on_its_workflow_page(
    page: Page, live_server: LiveServer, sample: str, theme: str
) -> None:
    show_graph_on_a_workflow_page(page, live_server, sample, theme)
    geometry = graph_geometry(page)

    assert len(geometry["tasks"]) == len(load_bundle(f"{sample}.yaml")["workflow"]["tasks"])
    for task in geometry["tasks"]:  # titles, keys and badges fit in their boxes
        left, top, right, bottom = task["rect"]
        for text in task["texts"]:
            assert left < text[0] and text[2] < right and top < text[1] and text[3] < bottom
    texts = geometry["texts"]
    for i, (first, a) in enumerate(texts):  # no label lies on another
        for second, b in texts[i + 1 :]:
            assert not overlap(a, b), (first, second)
    assert (lightness(geometry["colour"]) > 0.5) == (theme == "dark")  # drawn in the page's text colour

    if folder := os.environ.get("GRAPH_SCREENSHOTS"):
        figure = page.locator("[data-testid=workflow-graph]")
        figure.screenshot(path=str(Path(folder) / f"graph-{sample}-{theme}.png"))


def test_the_graph_needs_nothing_a_strict_csp_refuses(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    errors = collect_errors(page)
    graph = render_to_string(
        "admin_sites/workflow_graph.html", {"bundle": load_bundle("customer-complaint.yaml")}
    )
    page.set_content(CSP_PAGE.format(graph=graph), wait_until="load")
    expect(page.locator("svg.tf-graph g.tf-task")).to_have_count(3)
    assert errors == []
