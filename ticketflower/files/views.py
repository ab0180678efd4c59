"""Upload (JSON, for layouts and scripts) and download of files, on the app's origin.

Thin: the service checks and stores, the selector decides who sees what; "not yours" is
the same 404 as "not there".
"""

from typing import cast
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from ticketflower.accounts.models import User
from ticketflower.core.ratelimit import rate_limit_hit
from ticketflower.files import selectors, services

UPLOADS_LIMIT = "file_uploads_per_user"


@require_POST
@login_required
def upload(request: HttpRequest) -> JsonResponse:
    """{"id", "name", "size", "content_type"}, or 4xx {"detail"}: one file in the field "file"."""
    user = cast(User, request.user)
    wait = rate_limit_hit(scope=UPLOADS_LIMIT, key=str(user.pk), **settings.RATE_LIMITS[UPLOADS_LIMIT])
    if wait is not None:
        return JsonResponse({"detail": "Too many uploads: try again in a few minutes."}, status=429)
    uploaded = request.FILES.get("file")
    if uploaded is None or len(request.FILES) != 1:
        return JsonResponse({"detail": 'Send exactly one file, in the field "file".'}, status=400)
    try:
        record = services.file_upload(user=user, uploaded=uploaded)
    except services.FileRefused as exc:
        return JsonResponse({"detail": str(exc)}, status=422)
    return JsonResponse(
        {"id": record.pk, "name": record.filename, "size": record.size, "content_type": record.file_type},
        status=201,
    )


@require_GET
@login_required
def download(request: HttpRequest, pk: int) -> FileResponse:
    record = selectors.visible_file(cast(User, request.user), pk)
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
