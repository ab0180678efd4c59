"""Pages hand layouts what they may show, take their answers through the same forms, and preview drafts."""

import json
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.test import Client, override_settings

from conftest import Tenant
from ticketflower.core.management.commands.serve import sandbox_addrport
from ticketflower.definitions.models import TicketDefinition
from ticketflower.files.services import file_upload
from ticketflower.layouts.embed import release_frame
from ticketflower.layouts.models import CompiledLayout
from ticketflower.runtime.forms import LAYOUT_VALUES, LayoutValuesInvalid, layout_form_data, ticket_form
from ticketflower.runtime.models import TicketInstance
from ticketflower.runtime.tests.workflows import publish, review_bundle
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db

SANDBOX = "http://localhost:8001"


@pytest.fixture(autouse=True)
def sandbox() -> Iterator[None]:
    with override_settings(LAYOUT_SANDBOX_ORIGIN=SANDBOX):
        yield


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
    assert f'data-frame-url="{SANDBOX}/frame/{module}/"' in page
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


# --- the design site's preview -----------------------------------------------------------------


def preview(client: Client, target: str, source: str, mode: str = "") -> dict[str, object]:
    response = client.post(
        "/design/layout-preview/",
        json.dumps({"target": target, "source": source, "mode": mode}),
        content_type="application/json",
    )
    return {"status": response.status_code, **response.json()}


def test_the_preview_shows_a_draft_layout_with_sample_values(client: Client, tenant_a: Tenant) -> None:
    publish(tenant_a.designer, review_bundle())
    with company_context(tenant_a.company):
        pk = TicketDefinition.objects.get().pk
    client.force_login(tenant_a.designer)

    shown = preview(client, f"tickettype:{pk}:edit_layout", "export default () => <p>hi</p>;", mode="display")

    frame = shown["frame"]
    assert shown["status"] == 200 and isinstance(frame, dict)
    assert frame["url"].startswith(f"{SANDBOX}/frame/")
    assert frame["props"]["mode"] == "display"
    assert frame["props"]["values"] == {"item": "text", "count": 1}


def test_the_preview_names_problems_by_line_and_column(client: Client, tenant_a: Tenant) -> None:
    publish(tenant_a.designer, review_bundle())
    with company_context(tenant_a.company):
        pk = TicketDefinition.objects.get().pk
    client.force_login(tenant_a.designer)

    shown = preview(client, f"tickettype:{pk}:edit_layout", "export default function L() {\n  const x = ;\n}")

    assert shown["problems"] == [{"line": 2, "column": 13, "text": 'Line 2, column 13: Unexpected ";"'}]


def test_the_preview_of_another_companys_definition_is_not_found(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    publish(tenant_b.designer, review_bundle())
    with company_context(tenant_b.company):
        theirs = TicketDefinition.objects.get().pk
    client.force_login(tenant_a.designer)

    assert preview(client, f"tickettype:{theirs}:edit_layout", "export default () => null;")["status"] == 404
    assert preview(client, "workflow:x:edit_layout", "")["status"] == 400
    client.force_login(tenant_a.member)  # not a designer: the design site is not there for them
    assert client.post("/design/layout-preview/", "{}", content_type="application/json").status_code == 404


@pytest.mark.parametrize(
    "origin, app, served",
    [
        ("http://localhost:8001", "127.0.0.1:8000", "127.0.0.1:8001"),
        ("http://localhost:8000", "127.0.0.1:8000", ""),  # the app's own server answers it
        ("https://layouts.example.net", "127.0.0.1:8000", ""),  # served elsewhere
        ("", "127.0.0.1:8000", ""),
    ],
)
def test_make_run_serves_a_local_sandbox_origin_on_its_port(origin: str, app: str, served: str) -> None:
    with override_settings(LAYOUT_SANDBOX_ORIGIN=origin):
        assert sandbox_addrport(app) == served
