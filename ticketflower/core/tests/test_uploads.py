"""Request bodies over MAX_REQUEST_BYTES are refused before they are read, and uploads stop at it."""

import io
from typing import Any, cast

import pytest
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParser
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, ClientHandler, encode_multipart
from django.urls import reverse
from pytest_django.fixtures import Settings

from conftest import Tenant
from ticketflower.core.uploads import RequestSizeCapUploadHandler, UploadTooBig, size_text
from ticketflower.tenancy.models import CompanyRole

pytestmark = pytest.mark.django_db


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


class LowCapUploadHandler(RequestSizeCapUploadHandler):
    """Stops uploads below the middleware's cap, as if a server streamed more than declared."""

    def cap(self) -> int:
        return 1024


def multipart(size: int) -> bytes:
    upload = io.BytesIO(b"x" * size)
    upload.name = "rows.csv"
    return encode_multipart(BOUNDARY, {"import_file": upload, "format": "0", "resource": "0"})


def post_multipart(client: Client, url: str, body: bytes) -> Any:
    return client.generic("POST", url, body, content_type=MULTIPART_CONTENT)


def test_a_body_over_the_cap_is_refused_with_413_before_it_is_read(settings: Settings) -> None:
    settings.MAX_REQUEST_BYTES = 1024
    environ = RequestFactory().generic("POST", "/accounts/login/", b"", MULTIPART_CONTENT).environ
    environ.update(
        {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": "5000", "wsgi.input": UnreadableBody()}
    )
    response = cast(HttpResponse, ClientHandler()(environ))  # the middleware stack, as servers call it
    assert response.status_code == 413
    assert b"at most 1 KB per request" in response.content


def test_the_413_keeps_the_security_headers(client: Client, settings: Settings) -> None:
    settings.MAX_REQUEST_BYTES = 1024
    response = post_multipart(client, reverse("accounts:login"), multipart(2000))
    assert response.status_code == 413
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_body_at_the_cap_is_accepted(client: Client, settings: Settings) -> None:
    body = multipart(500)
    settings.MAX_REQUEST_BYTES = len(body)
    response = post_multipart(client, reverse("accounts:login"), body)
    assert response.status_code == 200  # the login form, with its errors


def test_a_multipart_body_without_content_length_is_not_parsed() -> None:
    # What a chunked request looks like to Django under WSGI: no CONTENT_LENGTH.
    environ = RequestFactory().generic("POST", "/", b"", MULTIPART_CONTENT).environ
    environ.pop("CONTENT_LENGTH", None)
    environ.update(
        {
            "CONTENT_TYPE": MULTIPART_CONTENT,
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": io.BytesIO(multipart(5000)),
        }
    )
    request = WSGIRequest(environ)
    assert not request.FILES and not request.POST


def test_the_upload_handler_stops_a_stream_longer_than_declared_at_the_cap(
    settings: Settings,
) -> None:
    settings.MAX_REQUEST_BYTES = 4096
    body = multipart(100_000)
    request = RequestFactory().generic("POST", "/", b"", MULTIPART_CONTENT)
    # A server that hands over more than the cap, whatever the request declared.
    meta = {**request.META, "CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}
    cap = RequestSizeCapUploadHandler(request)
    with pytest.raises(UploadTooBig):
        MultiPartParser(meta, io.BytesIO(body), [cap, MemoryFileUploadHandler(request)]).parse()
    assert cap.received <= 4096 + 64 * 1024  # stopped within one chunk of the cap


def test_a_stopped_upload_is_answered_413_and_writes_nothing(
    client: Client, tenant_a: Tenant, settings: Settings
) -> None:
    client.force_login(tenant_a.admin)
    settings.FILE_UPLOAD_HANDLERS = [
        f"{__name__}.LowCapUploadHandler",
        "django.core.files.uploadhandler.MemoryFileUploadHandler",
    ]
    response = post_multipart(client, reverse("company:tenancy_companyrole_import"), multipart(200_000))
    assert response.status_code == 413
    assert not CompanyRole.unscoped.exclude(pk=tenant_a.role.pk).filter(company=tenant_a.company).exists()


def test_sizes_read_as_people_write_them() -> None:
    assert [size_text(n) for n in (10 * 1024 * 1024, 2_621_440, 900 * 1024, 10)] == [
        "10 MB",
        "2.5 MB",
        "900 KB",
        "1 KB",
    ]
