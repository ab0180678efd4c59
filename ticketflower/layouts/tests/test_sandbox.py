"""The sandbox origin answers its own few URLs with its own policy; the app answers nothing else there."""

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from tests.factories import make_company, make_user
from ticketflower.accounts.models import User
from ticketflower.definitions.services import bundle_import, workflow_publish
from ticketflower.layouts.models import CompiledLayout
from ticketflower.layouts.services import layout_store, unused_layouts_remove
from ticketflower.layouts.slots import bundle_slots
from ticketflower.runtime.tests.workflows import publish, review_bundle
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import SystemRole

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

SANDBOX = "http://layouts.sandbox.test:8001"
APP = "http://app.test"
LAYOUT = 'import { Field } from "@ticketflower/kit";\nexport default () => <Field name="item" />;\n'


@pytest.fixture(autouse=True)
def sandbox_origin() -> Iterator[None]:
    with override_settings(
        LAYOUT_SANDBOX_ORIGIN=SANDBOX,
        LAYOUT_APP_ORIGINS=[APP],
        ALLOWED_HOSTS=["layouts.sandbox.test", "app.test", "testserver"],
    ):
        yield


def sandbox_get(path: str, host: str = "layouts.sandbox.test:8001", dest: str = "iframe") -> "Response":
    return Client().get(path, HTTP_HOST=host, HTTP_SEC_FETCH_DEST=dest)


def test_the_frame_page_loads_the_runtime_then_the_layout_under_the_sandbox_policy() -> None:
    module = layout_store(LAYOUT)

    response = sandbox_get(f"/frame/{module.sha256}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("/runtime/frame.js") < html.index(f"/layouts/{module.sha256}.js")
    policy = response.headers["Content-Security-Policy"]
    for directive in (
        "sandbox allow-scripts allow-forms",
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'none'",
        "form-action 'none'",
        "img-src data: blob:",
        f"frame-ancestors {APP}",
    ):
        assert directive in policy
    assert "allow-same-origin" not in policy
    assert "X-Frame-Options" not in response.headers


def test_the_frame_page_is_not_a_page_of_its_own() -> None:
    module = layout_store(LAYOUT)

    assert sandbox_get(f"/frame/{module.sha256}/", dest="document").status_code == 404
    assert sandbox_get(f"/frame/{module.sha256}/", dest="").status_code == 404


@pytest.mark.parametrize("host", ["LAYOUTS.sandbox.test:8001", "layouts.sandbox.test.:8001"])
def test_the_sandbox_host_is_recognised_however_it_is_spelled(host: str) -> None:
    module = layout_store(LAYOUT)

    assert sandbox_get(f"/layouts/{module.sha256}.js", host=host).status_code == 200
    assert sandbox_get("/accounts/login/", host=host).status_code == 404


def test_the_default_port_may_be_spelled_out() -> None:
    with override_settings(LAYOUT_SANDBOX_ORIGIN="https://layouts.sandbox.test"):
        assert sandbox_get("/accounts/login/", host="layouts.sandbox.test:443").status_code == 404
        assert sandbox_get("/accounts/login/", host="layouts.sandbox.test").status_code == 404


def test_a_compiled_module_is_served_by_its_hash_and_cached_for_good() -> None:
    module = layout_store(LAYOUT)

    response = sandbox_get(f"/layouts/{module.sha256}.js")

    assert response.status_code == 200
    assert response.content.decode() == module.code
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in response.headers["Cache-Control"]
    assert sandbox_get(f"/layouts/{'0' * 64}.js").status_code == 404


def test_the_runtime_is_served_from_the_sandbox_origin() -> None:
    response = sandbox_get("/runtime/frame.js")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert sandbox_get("/runtime/host.js").status_code == 404  # the page's side is not the frame's


@pytest.mark.parametrize(
    "path", ["/", "/accounts/login/", "/design/", "/api/v1/tickets/", "/admin/", "/static/layouts/host.js"]
)
def test_no_page_of_the_app_answers_on_the_sandbox_origin(path: str) -> None:
    response = sandbox_get(path)

    assert response.status_code == 404
    assert "sandbox allow-scripts" in response.headers["Content-Security-Policy"]
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


def test_the_sandbox_urls_do_not_answer_on_the_app_origin() -> None:
    module = layout_store(LAYOUT)

    assert Client().get(f"/layouts/{module.sha256}.js", HTTP_HOST="app.test").status_code == 404
    assert Client().get(f"/frame/{module.sha256}/", HTTP_HOST="app.test").status_code == 404


# --- publishing --------------------------------------------------------------------------------


def designer() -> User:
    return make_user(make_company(), roles=[SystemRole.WORKFLOW_CREATOR, SystemRole.USER])


def test_a_release_freezes_a_compiled_module_for_every_layout_defaults_included() -> None:
    bundle = review_bundle()
    bundle["ticket_types"][0]["edit_layout"] = LAYOUT

    ticket_type = publish(designer(), bundle)

    layouts = ticket_type.release.layouts
    assert set(layouts) == {slot.path for slot in bundle_slots(bundle)}
    assert layouts["ticket_types[0].edit_layout"] == layout_store(LAYOUT).sha256
    stored = set(CompiledLayout.objects.filter(sha256__in=layouts.values()).values_list("sha256", flat=True))
    assert stored == set(layouts.values())


def test_a_layout_that_does_not_compile_cannot_be_imported_or_published() -> None:
    person = designer()
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["edit_layout"] = "export default function L() {\n  return <div>\n}"

    imported = bundle_import(actor=person, bundle=bundle)

    assert imported.workflow is None
    assert imported.problems
    assert {p.path for p in imported.problems} == {"workflow.tasks[0].edit_layout"}
    assert imported.problems[0].message.startswith("Line 3, column ")
    with company_context(person.company):  # type: ignore[arg-type]
        fine = bundle_import(actor=person, bundle=review_bundle()).workflow
    assert fine is not None
    assert workflow_publish(actor=person, workflow=fine).release is not None


def test_modules_no_release_runs_are_removed_after_a_while() -> None:
    bundle = review_bundle()
    bundle["ticket_types"][0]["edit_layout"] = LAYOUT
    ticket_type = publish(designer(), bundle)
    previewed = layout_store('export default () => "a preview";')
    CompiledLayout.objects.update(created_at=timezone.now() - timedelta(days=30))

    removed = unused_layouts_remove(older_than=timezone.now() - timedelta(days=7))

    assert removed == 1
    assert not CompiledLayout.objects.filter(sha256=previewed.sha256).exists()
    assert set(ticket_type.release.layouts.values()) <= set(
        CompiledLayout.objects.values_list("sha256", flat=True)
    )
    layout_store(LAYOUT)  # used again: refreshed, so kept by the next pass even if no release ran it
    assert CompiledLayout.objects.get(
        sha256=layout_store(LAYOUT).sha256
    ).created_at > timezone.now() - timedelta(minutes=1)
