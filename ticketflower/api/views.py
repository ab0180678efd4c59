"""The API's endpoints. Thin: selectors read, services write, serializers shape.

How to add one: ticketflower/api/base.py (the base classes) and docs/api.md.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from ticketflower.api.base import ApiView, CompanyScopedApiMixin
from ticketflower.api.errors import json_error
from ticketflower.api.serializers import TicketTypeSerializer
from ticketflower.definitions.selectors import load_release_bundles, submittable_ticket_types


class TicketTypeListView(ApiView):
    """The ticket types you may submit, each with the JSON Schema of its `data`."""

    @extend_schema(operation_id="ticket_types_list", responses=TicketTypeSerializer(many=True))
    def get(self, request: Request) -> Response:
        ticket_types = load_release_bundles(submittable_ticket_types(self.user))
        return Response(TicketTypeSerializer(ticket_types, many=True).data)  # type: ignore[arg-type]


class SchemaView(CompanyScopedApiMixin, SpectacularAPIView):
    """The OpenAPI 3 schema (YAML; `?format=json` for JSON). Public: it describes, holds no data."""

    permission_classes = [AllowAny]


class NotFoundView(ApiView):
    """Any other path under /api/: a JSON 404 whatever the method (and no slash-appending redirect)."""

    permission_classes = [AllowAny]
    schema = None  # not an operation

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise NotFound("No such API endpoint. The list is at /api/v1/docs/.")


# Swagger UI's stylesheet draws its icons as data: SVG images. An image cannot run script,
# so this page alone may show them; scripts stay 'self' only.
DOCS_CSP = {**settings.SECURE_CSP, "img-src": [*settings.SECURE_CSP["img-src"], "data:"]}


# Exempt from CSRF like every DRF view, so no path under /api/ answers with the CSRF failure
# page: the docs page changes nothing, and any other method gets the JSON 405.
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(csp_override(DOCS_CSP), name="dispatch")
class DocsView(TemplateView):
    """Swagger UI for the schema, self-hosted and under the site's CSP (no inline script).

    Public like the schema. The page's script is a static file (api/docs.js) that reads the
    schema's URL from a data attribute.
    """

    template_name = "api/docs.html"
    http_method_names = ["get", "head", "options"]

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = json_error(405, f'Method "{request.method}" not allowed.')
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response
