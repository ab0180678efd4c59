"""Every API error is JSON: `{"detail": "<a sentence>", "errors": {"<field>": ["<message>", ...]}}`.

`detail` always says what went wrong; `errors` maps a field (a dotted path for nested input,
e.g. `data.item` or `items.0.name`) to its messages, and is `{}` when no field is to blame.

- `exception_handler`: DRF's errors, Django's ValidationError (as services raise it, keyed by
  field), PermissionDenied, Http404 and DoesNotExist (404: "not yours" reads as "not there"),
  and anything else as a logged 500 with a generic detail.
- `bad_request`, `permission_denied`, `page_not_found`, `server_error`: the project's handler400
  … handler500 (config/urls.py) — JSON under /api/, Django's own pages elsewhere. They catch
  what happens outside an API view (middleware, the docs page).
"""

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

logger = logging.getLogger("ticketflower.api")

API_PREFIX = "/api/"
SERVER_ERROR = "Something went wrong on our side; it has been logged."
INVALID = "The request has errors; see `errors`."


def error_body(detail: str, errors: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": dict(errors or {})}


def flatten(detail: Any, path: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"dotted.path": [messages]}; "" for messages on no field."""
    if isinstance(detail, Mapping):
        found: dict[str, list[str]] = {}
        for key, value in detail.items():
            inner = "" if key in (api_settings.NON_FIELD_ERRORS_KEY, NON_FIELD_ERRORS) else str(key)
            for name, messages in flatten(
                value, f"{path}.{inner}" if path and inner else path or inner
            ).items():
                found.setdefault(name, []).extend(messages)
        return found
    if isinstance(detail, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in detail):
            return {path: [str(item) for item in detail]} if detail else {}
        found = {}
        for index, item in enumerate(detail):
            for name, messages in flatten(item, f"{path}.{index}" if path else str(index)).items():
                found.setdefault(name, []).extend(messages)
        return found
    return {path: [str(detail)]}


def validation_body(detail: Any) -> dict[str, Any]:
    """Field messages under `errors`; messages about no field become the `detail` sentence."""
    errors = flatten(detail)
    general = errors.pop("", [])
    return error_body(" ".join(general) or INVALID, errors)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: a JSON response for every exception a view raises."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        request = context.get("request")
        logger.error(
            "Uncaught exception in API view %s: %s %s",
            type(context.get("view")).__name__,
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=exc,
        )
        set_rollback()
        return Response(error_body(SERVER_ERROR), status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))
    if isinstance(exc, exceptions.ValidationError):
        body = validation_body(exc.detail)
    else:
        body = error_body(" ".join(flatten(exc.detail).get("", [])) or str(exc.default_detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


# --- outside API views ------------------------------------------------------------------------


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def json_error(status_code: int, detail: str) -> JsonResponse:
    return JsonResponse(error_body(detail), status=status_code)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return json_error(400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return json_error(403, str(exceptions.PermissionDenied.default_detail))
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return json_error(404, str(exceptions.NotFound.default_detail))
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django has logged the exception (django.request) before calling this.
    if is_api_request(request):
        return json_error(500, SERVER_ERROR)
    return defaults.server_error(request)
