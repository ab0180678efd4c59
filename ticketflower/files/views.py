"""Upload (JSON, for layouts and scripts) and download of files, on the app's origin.

Thin: the service checks and stores, the selector decides who sees what; "not yours" is
the same 404 as "not there".
"""

from typing import Any, cast
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.utils.datastructures import MultiValueDict
from django.views.decorators.http import require_GET, require_POST

from ticketflower.accounts.models import User
from ticketflower.core.ratelimit import rate_limit_hit
from ticketflower.files import selectors, services

UPLOADS_LIMIT = "file_uploads_per_user"


@require_POST
@login_required
def upload(request: HttpRequest) -> JsonResponse:
    """{"id", "name", "size", "content_type"}, or 4xx {"detail"}: one file in the field "file"."""
    status, body = upload_answer(cast(User, request.user), request.FILES)
    return JsonResponse(body, status=status)


def upload_answer(user: User, files: MultiValueDict[str, UploadedFile[Any]]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of an upload (this page's endpoint and the API's)."""
    wait = rate_limit_hit(scope=UPLOADS_LIMIT, key=str(user.pk), **settings.RATE_LIMITS[UPLOADS_LIMIT])
    if wait is not None:
        return 429, {"detail": "Too many uploads: try again in a few minutes."}
    uploaded = files.get("file")
    if uploaded is None or len(files) != 1:
        return 400, {"detail": 'Send exactly one file, in the field "file".'}
    try:
        record = services.file_upload(user=user, uploaded=uploaded)
    except services.FileRefused as exc:
        return 422, {"detail": str(exc)}
    return 201, {
        "id": record.pk,
        "name": record.filename,
        "size": record.size,
        "content_type": record.file_type,
    }


@require_GET
@login_required
def download(request: HttpRequest, pk: int) -> FileResponse:
    return file_response(cast(User, request.user), pk)


def file_response(user: User, pk: int) -> FileResponse:
    """The file for `user` to download, or Http404 alike for missing, another company's, or hidden."""
    record = selectors.visible_file(user, pk)
    if record is None:
        raise Http404("No such file.")
    try:
        stream = default_storage.open(record.ext_key, "rb")
    except FileNotFoundError as exc:
        raise Http404("No such file.") from exc
    response = FileResponse(stream, content_type=record.file_type or "application/octet-stream")
    # Always a download, never a page of this site; the browser does not guess the type.
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(record.filename)}"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
