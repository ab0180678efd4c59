"""The workflow fields editor: rows in, the bundle's field list out, errors in plain words."""

from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from tests.factories import load_bundle, make_workflow
from ticketflower.admin_sites.fields_editor import (
    WorkflowFieldsField,
    WorkflowFieldsWidget,
    field_name_from_label,
    fields_form_data,
    parse_options,
)
from ticketflower.admin_sites.tests.test_sites import change_form
from ticketflower.tenancy.context import company_context

SAMPLES = ["it-equipment-request.yaml", "customer-complaint.yaml", "purchase-order.yaml"]


class _FormData(HTMLParser):
    """What a browser would submit from the rendered widget (the <template> row is inert)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self.in_template = 0
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        if tag == "template":
            self.in_template += 1
        if self.in_template or ("name" not in attr and tag != "option"):
            return
        if tag == "input" and (attr.get("type") != "checkbox" or "checked" in attr):
            self.data[attr["name"]] = attr.get("value", "on" if attr.get("type") == "checkbox" else "")
        elif tag == "select":
            self.select = attr["name"]
        elif tag == "option" and self.select and ("selected" in attr or self.select not in self.data):
            self.data[self.select] = attr["value"]
        elif tag == "textarea":
            self.textarea = attr["name"]
            self.data[self.textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.in_template -= 1
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea and not self.in_template:
            # A browser drops the newline right after <textarea>.
            text = self.data[self.textarea] + data
            self.data[self.textarea] = text[1:] if text.startswith("\n") else text


def submitted(html: str) -> dict[str, str]:
    parser = _FormData()
    parser.feed(html)
    return parser.data


def clean(data: dict[str, str]) -> list[dict[str, Any]]:
    rows = WorkflowFieldsWidget().value_from_datadict(data, {}, "fields")
    return list(WorkflowFieldsField().clean(rows))


def errors(data: dict[str, str]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        clean(data)
    return list(caught.value.messages)


def row(number: int, **parts: str) -> dict[str, str]:
    """The inputs of one row as the page posts them (`number` counted from 1, as on screen)."""
    values = {"name": "", "type": "text", "label": "", "help_text": "", "options": ""} | parts
    return {f"fields-{number - 1}-{part}": value for part, value in values.items()}


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_sample_bundles_fields_come_back_unchanged_through_the_rendered_editor(sample: str) -> None:
    fields = load_bundle(sample)["workflow"]["fields"]
    html = WorkflowFieldsField().widget.render("fields", fields, attrs={"id": "id_fields"})
    assert clean(submitted(html)) == fields


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_posted_form_of_the_sample_bundles_fields_cleans_to_the_same_list(sample: str) -> None:
    fields = load_bundle(sample)["workflow"]["fields"]
    assert clean(fields_form_data("fields", fields)) == fields


def test_a_new_editor_shows_blank_rows_that_save_nothing() -> None:
    html = WorkflowFieldsWidget().render("fields", [], attrs={"id": "id_fields"})
    data = submitted(html)
    assert sorted(key for key in data if key.endswith("-label")) == [f"fields-{i}-label" for i in range(3)]
    assert clean(data) == []


def test_the_name_is_made_from_the_label_when_left_empty() -> None:
    assert clean(row(1, label="Laptop model", type="text")) == [
        {"name": "laptop_model", "type": "text", "label": "Laptop model"}
    ]


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Laptop model", "laptop_model"),
        ("  What do you need? ", "what_do_you_need"),
        ("Estimated cost (EUR)", "estimated_cost_eur"),
        ("Café crème", "cafe_creme"),
        ("2nd reviewer", "field_2nd_reviewer"),
        ("???", ""),
    ],
)
def test_field_name_from_label(label: str, name: str) -> None:
    assert field_name_from_label(label) == name


def test_a_name_with_capitals_and_spaces_is_refused_with_a_suggestion_naming_the_row() -> None:
    data = row(1, name="item", label="Item") | row(2, name="Check In", label="Check in")
    assert errors(data) == [
        "Row 2: the name “Check In” may only have lower-case letters, digits and _ — try “check_in”."
    ]


def test_a_name_starting_with_a_digit_is_refused_with_a_suggestion() -> None:
    assert errors(row(1, name="2nd")) == ["Row 1: the name “2nd” must start with a letter — try “field_2nd”."]


def test_a_label_that_gives_no_name_asks_for_one() -> None:
    assert errors(row(1, label="???")) == ["Row 1: give the field a name (lower-case letters, digits and _)."]


def test_a_name_used_twice_names_the_first_row() -> None:
    data = row(1, name="item") | row(2, name="reason") | row(3, name="item")
    assert errors(data) == ["Row 3: the name “item” is already used in row 1."]


def test_a_name_made_from_the_label_that_is_taken_says_so() -> None:
    data = row(1, name="item") | row(2, label="Item")
    assert errors(data) == [
        "Row 2: the name “item” (made from the label) is already used in row 1 — type another name."
    ]


def test_row_numbers_count_the_blank_rows_shown_above() -> None:
    data = row(1) | row(2, name="item") | row(3, name="Bad!")
    assert errors(data)[0].startswith("Row 3: ")


def test_every_bad_row_is_reported_at_once() -> None:
    data = row(1, name="Bad One") | row(2, name="ok") | row(3, label="Size", type="choice")
    assert [message[:6] for message in errors(data)] == ["Row 1:", "Row 3:"]


def test_a_list_field_without_options_is_refused_in_plain_words() -> None:
    assert errors(row(1, name="size", type="choice")) == [
        "Row 1: a list field needs its options: one per line, or separated by commas."
    ]


def test_an_option_listed_twice_is_refused() -> None:
    assert errors(row(1, name="size", type="multi_choice", options="S, M, S")) == [
        "Row 1: the option “S” is listed twice."
    ]


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("Laptop, Monitor ,Phone,", ["Laptop", "Monitor", "Phone"]),
        ("13 inch, silver\r\n15 inch, black\r\n\r\n", ["13 inch, silver", "15 inch, black"]),
        ("Laptop, Monitor\n", ["Laptop", "Monitor"]),
        ("  ", []),
    ],
)
def test_options_are_one_per_line_or_comma_separated(text: str, options: list[str]) -> None:
    assert parse_options(text) == options


def test_options_with_commas_survive_the_editor() -> None:
    fields = [{"name": "size", "type": "choice", "options": ["13 inch, silver", "15 inch, black"]}]
    html = WorkflowFieldsWidget().render("fields", fields, attrs={"id": "id_fields"})
    assert clean(submitted(html)) == fields


def test_options_of_a_field_that_is_not_a_list_are_not_saved() -> None:
    assert clean(row(1, name="note", type="long_text", options="a, b")) == [
        {"name": "note", "type": "long_text"}
    ]


def test_only_filled_in_optional_keys_are_saved() -> None:
    data = row(1, name="note", type="text", label=" A   note ", help_text="  Say why ") | {
        "fields-0-required": "on"
    }
    assert clean(data) == [
        {"name": "note", "type": "text", "label": "A note", "required": True, "help_text": "Say why"}
    ]


def test_a_removed_row_is_left_out() -> None:
    data = row(1, name="item") | row(2, name="old") | {"fields-1-remove": "on"}
    assert clean(data) == [{"name": "item", "type": "text"}]


def test_an_unknown_type_asks_for_one() -> None:
    assert errors(row(1, name="item", type="colour")) == ["Row 1: choose a type."]


def test_a_form_shown_again_after_an_error_keeps_each_row_in_its_place() -> None:
    data = row(1) | row(2, name="Bad Name", label="Bad") | {"fields-2-remove": "on"} | row(3, name="x")
    rows = WorkflowFieldsWidget().value_from_datadict(data, {}, "fields")
    again = submitted(WorkflowFieldsWidget().render("fields", rows, attrs={"id": "id_fields"}))
    assert again["fields-1-name"] == "Bad Name"
    assert again["fields-2-remove"] == "on"
    assert errors(again) == errors(data)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.invalid: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes |= {name for name, _value in attrs}
        if ("aria-invalid", "true") in attrs:
            self.invalid.append(dict(attrs).get("name") or "")

    def handle_data(self, data: str) -> None:
        self.text += data


def test_a_form_shown_again_after_an_error_marks_the_input_in_error_and_says_why_in_its_row() -> None:
    data = row(1, name="item") | row(2, name="Why Needed", label="Why")
    field = WorkflowFieldsField()
    with pytest.raises(ValidationError):
        field.clean(field.widget.value_from_datadict(data, {}, "fields"))
    parser = _Tags()
    parser.feed(field.widget.render("fields", field.widget.value_from_datadict(data, {}, "fields")))
    assert parser.invalid == ["fields-1-name"]
    assert "The name “Why Needed” may only have lower-case letters, digits and _ — try “why_needed”." in (
        parser.text
    )


def test_the_editor_has_no_inline_script_style_or_event_handler() -> None:
    fields = load_bundle("it-equipment-request.yaml")["workflow"]["fields"]
    widget = WorkflowFieldsWidget()
    parser = _Tags()
    parser.feed(widget.render("fields", fields, attrs={"id": "id_fields"}))
    assert "script" not in parser.tags
    assert [name for name in parser.attributes if name == "style" or name.startswith("on")] == []
    assert str(widget.media) == '<script src="/static/admin_sites/fields_editor.js"></script>'


def test_text_typed_into_the_rows_comes_out_escaped() -> None:
    html = WorkflowFieldsWidget().render(
        "fields", [{"name": "x", "type": "text", "label": '"><script>alert(1)</script>'}], attrs={"id": "f"}
    )
    assert "<script>" not in html
    assert "&quot;&gt;&lt;script&gt;" in html


def test_unchanged_fields_are_not_a_change_and_an_edit_is() -> None:
    fields = load_bundle("it-equipment-request.yaml")["workflow"]["fields"]
    field, widget = WorkflowFieldsField(), WorkflowFieldsWidget()
    same = widget.value_from_datadict(fields_form_data("fields", fields), {}, "fields")
    edited = widget.value_from_datadict(fields_form_data("fields", fields[1:]), {}, "fields")
    assert (field.has_changed(fields, same), field.has_changed(fields, edited)) == (False, True)


# --- on the design site -------------------------------------------------------------------------


def test_the_design_site_saves_the_rows_as_the_workflows_field_list(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    fields = [
        *workflow.fields,
        {"name": "colour", "type": "choice", "label": "Colour", "options": ["Red", "Blue"]},
    ]
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    data = change_form(workflow) | fields_form_data("fields", fields)
    assert client.post(url, data).status_code == 302
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
    assert workflow.fields == fields


def test_the_design_site_shows_a_bad_row_in_plain_words(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    data = change_form(workflow) | {"fields-1-name": "Why Needed"}
    response = client.post(url, data)
    assert response.status_code == 200
    assert (
        "Row 2: the name “Why Needed” may only have lower-case letters, digits and _ — try “why_needed”."
        in (response.content.decode())
    )
