from collections.abc import Callable

from django.conf import settings
from django.contrib.admin.options import IS_POPUP_VAR
from django.http import HttpRequest, HttpResponse
from django.utils.csp import CSP


class AdminPopupFramingMiddleware:
    """Admin pop-ups (a relation's "add another", "change selected") may be framed by this site.

    unfold opens them in a frame of the page that asked; every other page stays unframeable
    (SECURE_CSP's frame-ancestors 'none', X_FRAME_OPTIONS). After the CSP and X-Frame-Options
    middleware in MIDDLEWARE, so it sees the response first and they keep what it sets.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if IS_POPUP_VAR in request.GET:
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
            # What django.views.decorators.csp.csp_override sets, for this response only;
            # a response with its own policy (Django's debug pages have none) keeps it.
            if not hasattr(response, "_csp_config"):
                response._csp_config = {**settings.SECURE_CSP, "frame-ancestors": [CSP.SELF]}  # type: ignore[attr-defined]
        return response
