"""Every error under /api/ is JSON {"detail", "errors"}: never HTML, never Django's 500 page."""

import json
import logging
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from conftest import Tenant
from tests.factories import bearer, make_api_token
from ticketflower.api.errors import flatten

pytestmark = [pytest.mark.django_db, pytest.mark.urls("ticketflower.api.tests.urls")]


@pytest.fixture
def auth(tenant_a: Tenant) -> dict[str, str]:
    return bearer(make_api_token(tenant_a.member))


def post_json(client: Client, url: str, body: object, auth: dict[str, str]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", headers=auth)


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "errors"}
    return body


def test_unknown_api_path_is_a_json_404(client: Client) -> None:
    body = error(client.get("/api/v1/nope/"), 404)
    assert body == {"detail": "No such API endpoint. The list is at /api/v1/docs/.", "errors": {}}


def test_unknown_path_without_trailing_slash_is_a_404_not_a_redirect(client: Client) -> None:
    error(client.post("/api/v1/ticket-types", "{}", content_type="application/json"), 404)


def test_unknown_path_outside_the_api_is_still_an_html_page(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]


def test_wrong_method_is_a_json_405(client: Client, auth: dict[str, str]) -> None:
    body = error(client.delete("/api/v1/ticket-types/", headers=auth), 405)
    assert body == {"detail": 'Method "DELETE" not allowed.', "errors": {}}


def test_wrong_method_on_the_docs_page_is_a_json_405(client: Client) -> None:
    response = client.post("/api/v1/docs/")
    assert error(response, 405)["detail"] == 'Method "POST" not allowed.'
    assert response["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("path", ["/api/v1/ticket-types/", "/api/v1/docs/", "/api/v1/nope/"])
def test_no_api_path_asks_for_a_csrf_token(path: str, tenant_a: Tenant) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tenant_a.admin)
    response = browser.post(path, "{}", content_type="application/json")
    assert response.status_code in {401, 404, 405}
    error(response, response.status_code)


def test_a_form_post_is_a_json_415(client: Client, auth: dict[str, str]) -> None:
    body = error(client.post("/api/test/echo/", {"title": "x"}, headers=auth), 415)
    assert body["detail"].startswith('Unsupported media type "multipart/form-data')


def test_a_body_over_the_size_cap_is_a_json_413(
    client: Client, auth: dict[str, str], settings: Settings
) -> None:
    settings.MAX_REQUEST_BYTES = 100
    body = error(post_json(client, "/api/test/echo/", {"title": "x" * 200}, auth), 413)
    assert body["detail"].startswith("Request too large: TicketFlower accepts at most")


def test_malformed_json_is_a_json_400(client: Client, auth: dict[str, str]) -> None:
    response = client.post("/api/test/echo/", '{"title": ', content_type="application/json", headers=auth)
    assert error(response, 400)["detail"].startswith("JSON parse error")


def test_invalid_fields_are_listed_by_dotted_path(client: Client, auth: dict[str, str]) -> None:
    body = error(
        post_json(client, "/api/test/echo/", {"title": "too long", "lines": [{"name": "ok"}, {}]}, auth), 400
    )
    assert body == {
        "detail": "The request has errors; see `errors`.",
        "errors": {
            "title": ["Ensure this field has no more than 5 characters."],
            "lines.1.name": ["This field is required."],
        },
    }


def test_an_error_about_no_field_is_the_detail(client: Client, auth: dict[str, str]) -> None:
    body = error(post_json(client, "/api/test/echo/", {"title": "nope"}, auth), 400)
    assert body == {"detail": "Not this title.", "errors": {}}


def test_valid_input_passes(client: Client, auth: dict[str, str]) -> None:
    response = post_json(client, "/api/test/echo/", {"title": "fine"}, auth)
    assert response.status_code == 200 and response.json() == {"title": "fine"}


def test_a_services_validation_error_is_a_400_by_field(client: Client, auth: dict[str, str]) -> None:
    body = error(post_json(client, "/api/test/service-error/", {}, auth), 400)
    assert body == {"detail": "Try again tomorrow.", "errors": {"name": ["Taken."]}}


def test_a_missing_row_is_a_json_404(client: Client, auth: dict[str, str]) -> None:
    assert error(client.get("/api/test/missing/", headers=auth), 404) == {
        "detail": "Not found.",
        "errors": {},
    }


def test_a_bug_in_an_api_view_is_a_logged_json_500_without_details(
    client: Client, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ticketflower.api"):
        response = client.get("/api/test/crash/", headers=auth)
    body = error(response, 500)
    assert body == {"detail": "Something went wrong on our side; it has been logged.", "errors": {}}
    assert "hunter2" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "ticketflower.api"]
    assert "CrashView" in record.getMessage() and record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])


def test_a_bug_outside_drf_under_the_api_is_a_json_500(client: Client) -> None:
    crashing = Client(raise_request_exception=False)
    body = error(crashing.get("/api/test/django-crash/"), 500)
    assert body["detail"] == "Something went wrong on our side; it has been logged."


def test_not_found_and_forbidden_outside_drf_under_the_api_are_json(client: Client) -> None:
    assert error(client.get("/api/test/django-missing/"), 404)["detail"] == "Not found."
    assert error(client.get("/api/test/django-forbidden/"), 403)["detail"] == (
        "You do not have permission to perform this action."
    )


def test_flatten_names_nested_fields_and_keeps_general_messages_apart() -> None:
    assert flatten({"non_field_errors": ["a"], "data": {"item": ["b"]}, "rows": [{}, {"x": ["c"]}]}) == {
        "": ["a"],
        "data.item": ["b"],
        "rows.1.x": ["c"],
    }
