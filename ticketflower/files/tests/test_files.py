"""Uploads are checked and stored, attached to tickets through their data, and seen only through them."""

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from conftest import Tenant
from ticketflower.files.models import FileAttachment, FileUpload
from ticketflower.files.services import FileRefused, file_upload, orphans_remove, safe_name
from ticketflower.runtime.services import DataInvalid, task_complete, task_save, ticket_submit
from ticketflower.runtime.tests.workflows import form, publish, review_bundle
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def file_storage(tmp_path: Path) -> Iterator[Path]:
    with override_settings(
        STORAGES={
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path)},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ):
        yield tmp_path


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def upload(tenant_user: object, name: str, content: bytes) -> FileUpload:
    return file_upload(user=tenant_user, uploaded=SimpleUploadedFile(name, content))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name, content, kind",
    [
        ("quote.pdf", PDF, "application/pdf"),
        ("photo.PNG", PNG, "image/png"),
        ("letter.docx", docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("notes.txt", "Grüße, 3 boxes\n".encode(), "text/plain"),
        ("orders.csv", b"item,count\nchair,3\n", "text/csv"),
        # The type comes from the bytes, not the name.
        ("invoice.exe", PDF, "application/pdf"),
    ],
)
def test_accepted_files_are_stored_with_the_type_their_bytes_show(
    tenant_a: Tenant, file_storage: Path, name: str, content: bytes, kind: str
) -> None:
    record = upload(tenant_a.member, name, content)

    assert record.file_type == kind
    assert record.size == len(content)
    assert record.company_id == tenant_a.company.pk
    assert record.uploaded_by_id == tenant_a.member.pk
    assert record.ext_key.startswith(f"uploads/{tenant_a.company.pk}/")
    assert (file_storage / record.ext_key).read_bytes() == content


@pytest.mark.parametrize(
    "name, content",
    [
        ("page.html", b"<!DOCTYPE html><script>alert(1)</script>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        ("data.xml", b'<?xml version="1.0"?><a/>'),
        ("program.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00"),
        ("archive.zip", b"PK\x03\x04not really a zip"),
        ("empty.txt", b""),
    ],
)
def test_other_files_are_refused_and_nothing_is_kept(
    tenant_a: Tenant, file_storage: Path, name: str, content: bytes
) -> None:
    with pytest.raises(FileRefused):
        upload(tenant_a.member, name, content)

    assert FileUpload.unscoped.count() == 0
    assert [path for path in file_storage.rglob("*") if path.is_file()] == []


def test_a_file_over_the_limit_is_refused(tenant_a: Tenant) -> None:
    with override_settings(FILE_UPLOAD_MAX_BYTES=10), pytest.raises(FileRefused, match="too large"):
        upload(tenant_a.member, "quote.pdf", PDF)


def test_names_lose_their_directories_and_control_characters() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\quote.pdf") == "quote.pdf"
    assert safe_name("a\x00b\u202e.pdf") == "ab.pdf"
    assert safe_name("...") == "file"
    assert len(safe_name("x" * 500 + ".pdf")) <= 200 and safe_name("x" * 500 + ".pdf").endswith(".pdf")


# --- through tickets ---------------------------------------------------------------------------


def file_bundle() -> dict[str, object]:
    bundle = review_bundle()
    workflow = bundle["workflow"]
    workflow["fields"].append({"name": "quote", "type": "file", "label": "Quote"})
    workflow["fields"].append({"name": "receipt", "type": "file", "label": "Receipt"})
    workflow["tasks"][0] = form(
        "review",
        {"approved": {"type": "boolean"}, "receipt": {"type": "integer"}},
        input_schema={"properties": {"item": {}, "quote": {}}},
    )
    bundle["ticket_types"][0]["fields"].append({"field": "quote"})
    return bundle


def test_a_submitted_file_is_attached_and_seen_by_who_may_see_the_ticket(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    ticket_type = publish(tenant_a.designer, file_bundle())
    quote = upload(tenant_a.member, "quote.pdf", PDF)

    ticket = ticket_submit(
        ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "Desk", "quote": quote.pk}
    )

    with company_context(tenant_a.company):
        assert list(FileAttachment.objects.values_list("file_id", "ticket_id")) == [(quote.pk, ticket.pk)]
    url = f"/files/{quote.pk}/"
    seen = {}
    for label, user in [
        ("submitter", tenant_a.member),
        ("ticket admin", tenant_a.ticket_admin),
        ("designer", tenant_a.designer),
        ("other company's admin", tenant_b.admin),
    ]:
        client = Client()
        client.force_login(user)
        response = client.get(url)
        seen[label] = response.status_code
        if response.status_code == 200:
            assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
            assert response["Content-Disposition"] == "attachment; filename*=UTF-8''quote.pdf"
            assert response["Content-Type"] == "application/pdf"
            assert response["X-Content-Type-Options"] == "nosniff"
    assert seen == {"submitter": 200, "ticket admin": 200, "designer": 404, "other company's admin": 404}


def test_someone_elses_upload_cannot_be_attached_by_naming_its_id(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, file_bundle())
    secret = upload(tenant_a.ticket_admin, "salaries.pdf", PDF)  # a colleague's upload

    with pytest.raises(DataInvalid) as refused:
        ticket_submit(
            ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x", "quote": secret.pk}
        )

    assert refused.value.errors == {"quote": ["No such file: upload it again."]}
    assert FileAttachment.unscoped.count() == 0


def downloads(user: Any, *files: FileUpload) -> list[int]:
    client = Client()
    client.force_login(user)
    return [client.get(f"/files/{f.pk}/").status_code for f in files]


def test_people_see_the_files_of_the_data_they_see(tenant_a: Tenant) -> None:
    """The submitter: the submission's. The worker: what the task read and answered. Not
    another task's answer, nor a draft's file taken out again."""
    ticket_type = publish(tenant_a.designer, file_bundle())
    quote = upload(tenant_a.member, "quote.pdf", PDF)
    ticket = ticket_submit(
        ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x", "quote": quote.pk}
    )
    with company_context(tenant_a.company):
        task = ticket.workflow_instance.tasks.get()  # type: ignore[union-attr]
    worker = task.assigned_to
    assert worker is not None
    dropped = upload(worker, "first-try.png", PNG)
    task_save(worker=worker, task=task, output={"receipt": dropped.pk})
    receipt = upload(worker, "receipt.png", PNG)
    task_complete(worker=worker, task=task, output={"approved": True, "receipt": receipt.pk})

    assert downloads(tenant_a.member, quote, receipt, dropped) == [200, 404, 404]
    assert downloads(worker, quote, receipt, dropped) == [200, 200, 200]  # the last: their own upload
    assert downloads(tenant_a.ticket_admin, quote, receipt, dropped) == [200, 200, 404]
    other_worker = next(u for u in (tenant_a.worker, tenant_a.admin) if u.pk != worker.pk)
    assert downloads(other_worker, quote, receipt) == [404, 404]
    with company_context(tenant_a.company):
        attached = set(FileAttachment.objects.values_list("file_id", "task_id"))
    assert attached == {(quote.pk, None), (receipt.pk, task.pk)}


def test_orphans_older_than_the_limit_are_removed_with_their_bytes(
    tenant_a: Tenant, file_storage: Path, django_capture_on_commit_callbacks: Any
) -> None:
    ticket_type = publish(tenant_a.designer, file_bundle())
    kept = upload(tenant_a.member, "quote.pdf", PDF)
    ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x", "quote": kept.pk})
    orphan = upload(tenant_a.member, "forgotten.pdf", PDF)
    fresh = upload(tenant_a.member, "just-now.pdf", PDF)
    FileUpload.unscoped.filter(pk__in=[kept.pk, orphan.pk]).update(
        uploaded_at=kept.uploaded_at - timedelta(days=2)
    )

    with company_context(tenant_a.company), django_capture_on_commit_callbacks(execute=True):
        assert orphans_remove() == 1

    assert set(FileUpload.unscoped.values_list("pk", flat=True)) == {kept.pk, fresh.pk}
    assert not default_storage.exists(orphan.ext_key)
    assert default_storage.exists(kept.ext_key)


def test_the_upload_endpoint_answers_json_and_refuses_with_a_reason(tenant_a: Tenant) -> None:
    client = Client()
    client.force_login(tenant_a.member)

    made = client.post("/files/upload/", {"file": SimpleUploadedFile("quote.pdf", PDF)})
    refused = client.post("/files/upload/", {"file": SimpleUploadedFile("x.html", b"<html><script>")})
    nothing = client.post("/files/upload/", {})

    assert made.status_code == 201
    assert made.json() == {
        "id": made.json()["id"],
        "name": "quote.pdf",
        "size": len(PDF),
        "content_type": "application/pdf",
    }
    assert refused.status_code == 422 and "not accepted" in refused.json()["detail"]
    assert nothing.status_code == 400
    assert Client().post("/files/upload/", {"file": SimpleUploadedFile("q.pdf", PDF)}).status_code == 302
