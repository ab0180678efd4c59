"""Files through the API: a script uploads one, submits a ticket with it, and downloads it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from conftest import Tenant
from tests.factories import bearer, make_api_token
from ticketflower.runtime.models import TicketInstance
from ticketflower.runtime.tests.workflows import publish, review_bundle

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n% a quote\n%%EOF\n"


@pytest.fixture(autouse=True)
def file_storage(tmp_path: Path) -> Iterator[None]:
    storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={"default": storage, "staticfiles": static}):
        yield


def test_a_script_uploads_a_file_and_submits_a_ticket_with_it(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    bundle = review_bundle()
    bundle["workflow"]["fields"].append({"name": "quote", "type": "file", "label": "Quote"})
    bundle["ticket_types"][0]["fields"].append({"field": "quote"})
    ticket_type = publish(tenant_a.designer, bundle)
    token = bearer(make_api_token(tenant_a.member))

    made = client.post("/api/v1/files/", {"file": SimpleUploadedFile("quote.pdf", PDF)}, headers=token)
    assert made.status_code == 201, made.content
    file_id = made.json()["id"]
    assert made.json() == {
        "id": file_id,
        "name": "quote.pdf",
        "size": len(PDF),
        "content_type": "application/pdf",
    }

    submitted = client.post(
        "/api/v1/tickets/",
        {"ticket_type": ticket_type.pk, "data": {"item": "Printer", "quote": file_id}},
        content_type="application/json",
        headers=token,
    )
    assert submitted.status_code == 201, submitted.content
    assert TicketInstance.unscoped.get().data["quote"] == file_id

    download = client.get(f"/api/v1/files/{file_id}/", headers=token)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    other = client.get(f"/api/v1/files/{file_id}/", headers=bearer(make_api_token(tenant_b.member)))
    assert other.status_code == 404 and other.json()["detail"]


def test_an_upload_the_api_refuses_says_why(client: Client, tenant_a: Tenant) -> None:
    token = bearer(make_api_token(tenant_a.member))

    refused = client.post("/api/v1/files/", {"file": SimpleUploadedFile("x.html", b"<html>")}, headers=token)
    nothing = client.post("/api/v1/files/", {}, headers=token)
    anonymous = client.post("/api/v1/files/", {"file": SimpleUploadedFile("q.pdf", PDF)})

    assert refused.status_code == 422 and "not accepted" in refused.json()["detail"]
    assert nothing.status_code == 400
    assert anonymous.status_code == 401
