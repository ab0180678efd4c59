"""The layout sandbox's origin: the frame page, the runtime and compiled layouts, nothing else.

One Django project answers both origins. A request whose host is LAYOUT_SANDBOX_ORIGIN's is
routed to `sandbox_urls` only, so no page, cookie-bearing view or API of the app is reachable
there, and every sandbox response carries the sandbox's own policy: even opened at the top
level the document is sandboxed (no same-origin access), runs only scripts from this origin,
connects nowhere, posts no form and may be framed by the app's pages only.
"""

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.utils.csp import CSP, build_policy
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from ticketflower.layouts.models import CompiledLayout

SANDBOX_URLCONF = "ticketflower.layouts.sandbox_urls"
RUNTIME_FILES = {"frame.js": "text/javascript", "frame.css": "text/css"}


def sandbox_csp() -> dict[str, list[str]]:
    return {
        "sandbox": ["allow-scripts", "allow-forms"],
        "default-src": [CSP.NONE],
        "script-src": [CSP.SELF],
        "style-src": [CSP.SELF],
        # React writes style="" attributes for a layout's style props.
        "style-src-attr": [CSP.UNSAFE_INLINE],
        "img-src": ["data:", "blob:"],
        "connect-src": [CSP.NONE],
        "form-action": [CSP.NONE],
        "base-uri": [CSP.NONE],
        "frame-ancestors": list(settings.LAYOUT_APP_ORIGINS),
    }


def is_sandbox_request(request: HttpRequest) -> bool:
    """Whether the request is for the sandbox's host and port, however the Host is spelled."""
    origin = str(settings.LAYOUT_SANDBOX_ORIGIN)
    if not origin:
        return False
    sandbox = urlsplit(origin)
    default_port = "443" if sandbox.scheme == "https" else "80"
    # The raw header ("Layouts.example.net.:443" is the same host to a browser): get_host()
    # would refuse a host not in ALLOWED_HOSTS before this could route it.
    domain, port = split_domain_port(str(request.META.get("HTTP_HOST", "")))
    return domain == sandbox.hostname and (port or default_port) == str(sandbox.port or default_port)


class SandboxHostMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sandboxed = is_sandbox_request(request)
        if sandboxed:
            request.urlconf = SANDBOX_URLCONF
        response = self.get_response(request)
        if sandboxed:
            # Whatever answered (a view, a 404), the app's policy never applies here.
            response.headers["Content-Security-Policy"] = build_policy(sandbox_csp())
            response.headers.pop("Content-Security-Policy-Report-Only", None)
            response.headers.pop("X-Frame-Options", None)
        return response


@require_GET
@xframe_options_exempt
def frame(request: HttpRequest, sha256: str) -> HttpResponse:
    """The page a layout runs in: the runtime first, then the layout's module.

    Only as a frame: opened as a page of its own, a layout would run on this domain with
    nobody to talk to (and could still navigate itself), so browsers get "not found".
    """
    if request.headers.get("Sec-Fetch-Dest") != "iframe":  # every current browser sends it
        raise Http404("Layouts run only in frames.")
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/runtime/frame.css"></head>'
        '<body><div id="root"></div>'
        # crossorigin: errors in the layout's own code reach the runtime with their message
        # (the frame's origin is opaque, so scripts without it report "Script error.").
        '<script src="/runtime/frame.js" crossorigin="anonymous"></script>'
        f'<script src="/layouts/{sha256}.js" crossorigin="anonymous"></script>'
        "</body></html>"
    )
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@require_GET
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def module(request: HttpRequest, sha256: str) -> HttpResponse:
    """A compiled layout by its hash: the name is the content, so it is cached for good."""
    code = CompiledLayout.objects.filter(sha256=sha256).values_list("code", flat=True).first()
    if code is None:
        raise Http404("No such layout.")
    response = HttpResponse(code, content_type="text/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"  # public by hash; the frame's origin is "null"
    return response


@require_GET
@cache_control(public=True, max_age=300)
def runtime(request: HttpRequest, name: str) -> FileResponse:
    """The runtime `make` built from npm (ticketflower/layouts/static/layouts/)."""
    found = finders.find(f"layouts/{name}") if name in RUNTIME_FILES else None
    if not found:
        raise Http404("No such file.")
    stream = Path(str(found)).open("rb")  # noqa: SIM115 - FileResponse closes it
    response = FileResponse(stream, content_type=RUNTIME_FILES[name])
    response["Access-Control-Allow-Origin"] = "*"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return HttpResponse("Not found.\n", status=404, content_type="text/plain; charset=utf-8")
