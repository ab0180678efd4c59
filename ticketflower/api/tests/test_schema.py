"""The OpenAPI schema: public, valid OpenAPI 3, free of generator warnings, bearer-secured."""

import io

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_schema_is_valid_openapi_3_as_yaml_and_json(client: Client) -> None:
    as_yaml = client.get("/api/v1/schema/")
    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    schema = yaml.safe_load(as_yaml.content)
    validate_schema(schema)  # type: ignore[no-untyped-call]
    assert schema["openapi"].startswith("3.")

    as_json = client.get("/api/v1/schema/?format=json")
    assert as_json.status_code == 200 and as_json.json() == schema


def test_schema_describes_the_bearer_scheme_and_error_shape(client: Client) -> None:
    schema = client.get("/api/v1/schema/?format=json").json()
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    operation = schema["paths"]["/api/v1/ticket-types/"]["get"]
    assert operation["security"] == [{"bearerToken": []}]
    unauthorized = operation["responses"]["401"]["content"]["application/json"]["schema"]
    assert unauthorized == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail", "errors"]


def test_schema_generation_has_no_warnings() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "/api/v1/ticket-types/" in out.getvalue()


def test_docs_page_is_public_and_loads_only_static_scripts(client: Client) -> None:
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-schema-url="/api/v1/schema/?format=json"' in page
    assert "<script>" not in page and "<style" not in page
    assert "/static/api/docs.js" in page
