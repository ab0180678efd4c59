"""How drf-spectacular describes the API: the bearer scheme, and the error responses every
operation can give (so clients learn the error shape from the schema, not only from docs)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from ticketflower.api.serializers import ErrorSerializer


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "ticketflower.api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tf_<prefix>_<secret>",
            "description": "A personal API token, made on your profile page or with "
            "`manage.py api_token create`.",
        }


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class ApiAutoSchema(AutoSchema):
    """AutoSchema that adds the error responses an operation can give, with the Error body."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors: dict[str, OpenApiResponse] = {}
        if self.method in {"POST", "PUT", "PATCH"}:
            errors["400"] = _error("Invalid input: `errors` names each field's problems.")
        if not any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            errors["401"] = _error("No token, or an invalid, revoked or expired one.")
            errors["403"] = _error("Your roles do not allow this.")
        if "{" in self.path:
            errors["404"] = _error("No such object — or not one you may see.")
        for code, response in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses
