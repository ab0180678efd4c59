"""Request bodies and uploads stay under MAX_REQUEST_BYTES.

RequestSizeLimitMiddleware refuses a request whose declared Content-Length is over the cap
before anything reads the body (under WSGI Django never reads past Content-Length, and it
parses no multipart body that lacks one). RequestSizeCapUploadHandler is the backstop while
a multipart body streams in: it counts the bytes of every file of the request and stops the
upload at the cap, whatever the request declared; the middleware then answers 413 as well.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse

from ticketflower.api.errors import is_api_request, json_error

# Set on a request whose upload the handler stopped.
_STOPPED = "_ticketflower_upload_over_limit"


class UploadTooBig(RequestDataTooBig):
    """The files of one request passed MAX_REQUEST_BYTES."""


def size_text(size: int) -> str:
    """A byte count for people: "10 MB", "2.5 MB", "900 KB"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(size / 1024))} KB"


def too_large_response(request: HttpRequest) -> HttpResponse:
    limit = size_text(settings.MAX_REQUEST_BYTES)
    text = f"Request too large: TicketFlower accepts at most {limit} per request, files included."
    if is_api_request(request):  # every API error is JSON
        return json_error(413, text)
    return HttpResponse(text + "\n", status=413, content_type="text/plain; charset=utf-8")


class RequestSizeLimitMiddleware:
    """413 for a body over MAX_REQUEST_BYTES: by its Content-Length, or stopped while uploading.

    Early in MIDDLEWARE: nothing before it reads the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads such a body as empty
        if declared > settings.MAX_REQUEST_BYTES:
            return too_large_response(request)
        response = self.get_response(request)
        if getattr(request, _STOPPED, False):
            return too_large_response(request)  # instead of the 400 the stopped upload turned into
        return response


class RequestSizeCapUploadHandler(FileUploadHandler):
    """Counts the file bytes of one multipart request and stops at MAX_REQUEST_BYTES.

    First in FILE_UPLOAD_HANDLERS; it stores nothing, the next handlers do.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def cap(self) -> int:
        return int(settings.MAX_REQUEST_BYTES)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.cap():
            if self.request is not None:
                setattr(self.request, _STOPPED, True)
            raise UploadTooBig(f"Upload stopped at {size_text(self.cap())}.")
        return raw_data

    def file_complete(self, file_size: int) -> Any:
        return None
