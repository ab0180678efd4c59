"""The API walk: every URL under /api/, with a bearer token of each of A's people, B's ids filled in.

An API request is authenticated by its token alone, so the session walk (routes.py) says
little about it. Here every API route is filled with B's ids and requested with every method,
as A's admin, member and worker each holding a token; then with A's admin logged in by
session but no token (which the API must not accept), anonymously and with a forged token.

Every answer must be free of B's marker, below 500, and JSON (the docs page and the schema
excepted). A route with URL parameters needs a filler in `API_FILLERS` — the walk fails until
it has one, so a new endpoint cannot slip by unprobed.
"""

import json
from collections.abc import Callable
from typing import Any

from django.db import models
from django.test import Client
from django.urls import resolve
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from conftest import Tenant
from ticketflower.files.models import FileUpload
from ticketflower.runtime import services
from ticketflower.runtime.models import TaskInstance, TicketInstance

from .detect import assert_nothing_of_b
from .routes import Route, all_routes

METHODS = ["get", "post", "put", "patch", "delete"]
# Not JSON by design: Swagger UI's page, and the schema (OpenAPI YAML by default).
NOT_JSON = {"api:docs", "api:schema"}
FORGED = "tf_abcdefgh_" + "x" * 43


def first_and_last(model: type[models.Model], tenant: Tenant, param: str) -> list[dict[str, str]]:
    """The target company's first and last row of `model`, as values for URL parameter `param`."""
    pks = list(model._base_manager.filter(company=tenant.company).order_by("pk").values_list("pk", flat=True))
    assert pks, f"{tenant.company} has no {model.__name__}: make_work should make one"
    return [{param: str(pk)} for pk in dict.fromkeys([pks[0], pks[-1]])]


def callback_tokens(tenant: Tenant) -> list[dict[str, str]]:
    """Callback tokens of the target's tasks. The token is the credential, so only tasks that wait
    for no callback are used: a valid token completing its task is the endpoint's purpose."""
    tasks = TaskInstance.unscoped.filter(company=tenant.company, callback_token_hash__isnull=True).order_by(
        "pk"
    )
    return [{"token": services.callback_token(task)} for task in tasks[:2]]


def _tasks(tenant: Tenant) -> list[dict[str, str]]:
    return first_and_last(TaskInstance, tenant, "pk")


# URL name → the target company's values for that route's parameters. Add one per new route
# with parameters.
API_FILLERS: dict[str, Callable[[Tenant], list[dict[str, str]]]] = {
    "api:ticket": lambda t: first_and_last(TicketInstance, t, "pk"),
    "api:task-claim": _tasks,
    "api:task-start": _tasks,
    "api:task-complete": _tasks,
    "api:task-release": _tasks,
    "api:callback": callback_tokens,
    "api:file": lambda t: first_and_last(FileUpload, t, "pk"),
}


def api_routes() -> list[Route]:
    return [route for route in all_routes() if route.is_api]


def api_fillings(route: Route, target: Tenant) -> list[dict[str, str]] | None:
    if not route.params:
        return [{}]
    filler = API_FILLERS.get(route.name or "")
    return filler(target) if filler else None


def needs_token(url: str) -> bool:
    view = getattr(resolve(url).func, "view_class", None)
    if view is None or not issubclass(view, APIView):
        return False
    return not any(permission is AllowAny for permission in view.permission_classes)


def request(client: Client, method: str, url: str, data: dict[str, Any], headers: dict[str, str]) -> Any:
    """An API call as a script makes it: a JSON body for writes, the data as a query for reads."""
    where = f"{method.upper()} {url} with {headers or 'no token'}"
    try:
        if method == "get":
            return client.get(url, data, headers=headers)
        if method == "delete":
            return client.delete(url, headers=headers)
        return getattr(client, method)(
            url, json.dumps(data), content_type="application/json", headers=headers
        )
    except Exception as exc:  # the test client re-raises what escaped the view
        raise AssertionError(f"{where} raised {type(exc).__name__}: {exc}") from exc


def check(response: Any, url: str, where: str) -> None:
    assert_nothing_of_b(response, where)
    if resolve(url).view_name not in NOT_JSON:
        content_type = response.get("Content-Type", "")
        assert content_type == "application/json", f"{where} answered {content_type}, not JSON"
        body = response.json()
        if response.status_code >= 400:
            assert set(body) == {"detail", "errors"}, f"{where}: error body {body}"
