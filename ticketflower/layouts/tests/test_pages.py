"""Pages hand layouts what they may show, take their answers through the same forms, and preview drafts."""

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.test import Client

from conftest import SANDBOX_ORIGIN, Tenant
from ticketflower.core.management.commands.serve import sandbox_addrport
from ticketflower.files.services import file_upload
from ticketflower.layouts.embed import release_frame
from ticketflower.layouts.models import CompiledLayout
from ticketflower.runtime.forms import (
    LAYOUT_VALUES,
    DataForm,
    LayoutValuesInvalid,
    form_values,
    layout_form_data,
    ticket_form,
)
from ticketflower.runtime.models import TicketInstance
from ticketflower.runtime.services import ticket_submit
from ticketflower.runtime.tests.workflows import publish, review_bundle
from ticketflower.tenancy.context import company_context

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_origin")]


def test_a_layouts_answers_pass_through_the_typed_form() -> None:
    bundle = review_bundle()
    posted = QueryDict(mutable=True)
    posted[LAYOUT_VALUES] = json.dumps(
        {"item": "Desk", "count": 3, "urgent": True, "extra": "x", "approved": [1]}
    )

    form = ticket_form(bundle["ticket_types"][0], bundle["workflow"]["fields"], data=layout_form_data(posted))

    assert form.is_valid(), form.errors
    # Only the type's asked fields (urgent is a preset, extra and approved are not asked).
    assert form.json_data() == {"item": "Desk", "count": 3}


def test_a_layouts_wrong_answers_are_the_forms_field_errors() -> None:
    bundle = review_bundle()
    posted = QueryDict(mutable=True)
    posted[LAYOUT_VALUES] = json.dumps({"count": "many"})

    form = ticket_form(bundle["ticket_types"][0], bundle["workflow"]["fields"], data=layout_form_data(posted))

    assert not form.is_valid()
    assert set(form.errors) == {"item", "count"}


@pytest.mark.parametrize("text", ["{", "[1, 2]", '"x"', "x" * (1024 * 1024 + 1)])
def test_answers_that_are_not_a_json_object_are_refused(text: str) -> None:
    posted = QueryDict(mutable=True)
    posted[LAYOUT_VALUES] = text

    with pytest.raises(LayoutValuesInvalid):
        layout_form_data(posted)


def test_the_submit_page_refuses_unreadable_answers_and_makes_nothing(
    client: Client, tenant_a: Tenant
) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    client.force_login(tenant_a.member)

    response = client.post(f"/submit/{ticket_type.pk}/", {LAYOUT_VALUES: "{not json"})

    assert response.status_code == 200
    assert "The answers could not be read." in response.content.decode()
    assert TicketInstance.unscoped.count() == 0


def test_the_submit_page_frames_the_edit_layout_with_its_props(client: Client, tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    client.force_login(tenant_a.member)

    page = client.get(f"/submit/{ticket_type.pk}/").content.decode()

    module = ticket_type.release.layouts["ticket_types[0].edit_layout"]
    assert f'data-frame-url="{SANDBOX_ORIGIN}/frame/{module}/"' in page
    assert 'data-values-input="layout-values"' in page and 'data-upload-url="/files/upload/"' in page
    props = json.loads(page.split('id="layout-props-', 1)[1].split(">", 1)[1].split("</script>", 1)[0])
    assert props["mode"] == "edit"
    assert [field["name"] for field in props["fields"]] == ["item", "count"]
    assert props["context"] == {"ticket_type": {"title": "Ask for something"}, "files": {}}


def test_a_release_from_before_layouts_compiles_its_layout_when_first_shown(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    release = ticket_type.release
    # As a release published before layouts were compiled: the column's default, no modules.
    release.layouts = {}
    CompiledLayout.objects.all().delete()

    with company_context(tenant_a.company):
        frame = release_frame(release, "workflow.display_layout", viewer=tenant_a.member, key="k", values={})

    assert frame is not None
    assert CompiledLayout.objects.filter(sha256=frame.module).exists()


def test_a_forged_file_id_shows_no_name_of_a_file_the_viewer_may_not_see(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["fields"].append({"name": "quote", "type": "file", "label": "Quote"})
    bundle["ticket_types"][0]["fields"].append({"field": "quote"})
    ticket_type = publish(tenant_a.designer, bundle)
    secret = file_upload(user=tenant_a.ticket_admin, uploaded=SimpleUploadedFile("salaries.pdf", b"%PDF-1 x"))
    mine = file_upload(user=tenant_a.member, uploaded=SimpleUploadedFile("quote.pdf", b"%PDF-1 y"))

    with company_context(tenant_a.company):
        frames = [
            release_frame(
                ticket_type.release,
                "ticket_types[0].edit_layout",
                viewer=tenant_a.member,
                key="k",
                values={"quote": pk},
            )
            for pk in (secret.pk, mine.pk)
        ]

    assert [frame.props["context"]["files"] for frame in frames if frame] == [
        {},
        {str(mine.pk): {"name": "quote.pdf", "size": 8}},
    ]


@pytest.mark.parametrize(
    "origin, app, served",
    [
        ("http://localhost:8001", "127.0.0.1:8000", "127.0.0.1:8001"),
        ("http://localhost:8000", "127.0.0.1:8000", ""),  # the app's own server answers it
        ("https://layouts.example.net", "127.0.0.1:8000", ""),  # served elsewhere
        ("", "127.0.0.1:8000", ""),
    ],
)
def test_make_run_serves_a_local_sandbox_origin_on_its_port(
    settings: Any, origin: str, app: str, served: str
) -> None:
    settings.LAYOUT_SANDBOX_ORIGIN = origin

    assert sandbox_addrport(app) == served


def test_a_file_a_layout_leaves_out_is_cleared_and_a_typed_form_keeps_it() -> None:
    fields = [{"name": "quote", "type": "file", "label": "Quote"}]

    def answers(posted: QueryDict) -> dict[str, object]:
        form = DataForm(fields, initial_data={"quote": 7}, data=layout_form_data(posted), files={})
        assert form.is_valid(), form.errors
        return form.json_data()

    from_layout = QueryDict(mutable=True)
    from_layout[LAYOUT_VALUES] = json.dumps({})
    typed = QueryDict(mutable=True)
    kept = QueryDict(mutable=True)
    kept[LAYOUT_VALUES] = json.dumps({"quote": 7})

    assert answers(from_layout) == {}
    assert answers(typed) == {"quote": 7}
    assert answers(kept) == {"quote": 7}


@pytest.mark.parametrize("text", ["²", "0", "-3", "9" * 40, "1.5", "x"])
def test_a_file_field_refuses_what_is_not_an_upload_id(text: str) -> None:
    posted = QueryDict(mutable=True)
    posted["quote"] = text
    form = DataForm([{"name": "quote", "type": "file", "label": "Quote"}], data=posted, files={})

    assert not form.is_valid()
    assert form.errors["quote"] == ["Choose a file."]


def props_of(page: str, key: str) -> dict[str, Any]:
    """The props a page hands the layout `key` (from its json_script element)."""
    host = page.split(f'data-testid="layout-{key}"', 1)[0]
    script_id = host.rsplit('<script id="', 1)[1].split('"', 1)[0]
    body = page.split(f'<script id="{script_id}" type="application/json">', 1)[1].split("</script>", 1)[0]
    return dict(json.loads(body))


def test_a_submitter_sees_the_runs_steps_and_a_ticket_admin_all_of_its_data(
    client: Client, tenant_a: Tenant
) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    ticket = ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "Desk"})

    client.force_login(tenant_a.member)
    mine = props_of(client.get(f"/my-tickets/{ticket.pk}/").content.decode(), "workflow-display")
    client.force_login(tenant_a.ticket_admin)
    theirs = props_of(client.get(f"/my-tickets/{ticket.pk}/").content.decode(), "workflow-display")

    assert (mine["fields"], mine["values"]) == ([], {})  # the steps only: answers are the ticket display's
    assert [t["title"] for t in mine["context"]["tasks"]] == ["Review"]
    assert [f["name"] for f in theirs["fields"]] == ["item", "count", "urgent", "approved", "order_number"]
    assert theirs["values"] == {"item": "Desk", "urgent": False}


def test_a_layout_is_shown_back_what_was_typed_when_it_was_not_a_whole_number() -> None:
    bundle = review_bundle()
    posted = QueryDict(mutable=True)
    posted[LAYOUT_VALUES] = json.dumps({"item": "Desk", "count": 2.5})
    form = ticket_form(bundle["ticket_types"][0], bundle["workflow"]["fields"], data=layout_form_data(posted))

    assert not form.is_valid()
    assert form_values(form) == {"item": "Desk", "count": "2.5"}
