"""Walk every registered URL as company A's people and as a stranger, aiming at company B.

Each URL pattern is filled with company B's ids (or, where a parameter is a secret such as a
password-reset token, with a forged one), requested with GET and POST carrying B's ids in the
query and the body, and checked:

- no response shows or redirects to anything of B's (every B value contains "bravo");
- no request changes any row of B's;
- no request fails with a server error (the test client re-raises it).

The walk is built from the URL resolver, so a new page is probed without anyone listing it;
a URL parameter the probe cannot fill fails the test until a filler is added below.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.http import urlsafe_base64_encode
from guardian.models import UserObjectPermission
from reversion.models import Version

from conftest import Tenant, make_tenant
from tests.factories import load_bundle, make_ticket, make_workflow
from ticketflower.accounts.models import User
from ticketflower.definitions.services import bundle_import
from ticketflower.portal.selectors import AREAS
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company

MARKER = "bravo"  # in B's company name, e-mails and descriptions


@dataclass(frozen=True)
class Route:
    route: str  # the full pattern, e.g. "admin/auth/group/<path:object_id>/change/"
    name: str | None

    @property
    def params(self) -> list[str]:
        named = [a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", self.route)]
        # django-reversion's patterns use unnamed groups: an object id and a version id.
        unnamed = [name for group, name in UNNAMED_GROUPS.items() if group in self.route]
        return named + unnamed

    def fill(self, values: dict[str, str]) -> str:
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], self.route)
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], path)
        for group, name in UNNAMED_GROUPS.items():
            path = path.replace(group, values.get(name, group))
        return "/" + path.replace("^", "").replace("$", "")


UNNAMED_GROUPS = {"([^/]+)": "object_id", "(\\d+)": "version_id"}


def all_routes() -> list[Route]:
    def walk(resolver: URLResolver, prefix: str, namespace: str) -> Iterator[Route]:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                yield Route(prefix + str(entry.pattern), f"{namespace}{entry.name}" if entry.name else None)

    return list(walk(get_resolver(), "", ""))


def model_for(route: Route) -> type[models.Model] | None:
    """The model of an admin URL such as "<site>/<app_label>/<model_name>/<object_id>/..."."""
    match = re.match(r"^[\w-]+/(\w+)/(\w+)/", route.route)
    if match is None:
        return None
    try:
        return apps.get_model(match.group(1), match.group(2))
    except LookupError:
        return None


def instance_of(model: type[models.Model], victim: Tenant) -> models.Model | None:
    """B's row of `model` (or, for a platform-wide model, any row)."""
    if model is Company:
        return victim.company
    if any(f.name == "company" for f in model._meta.fields):
        return model._base_manager.filter(company=victim.company).order_by("pk").first()
    return model._base_manager.order_by("pk").first()


def owned_rows(victim: Tenant) -> list[tuple[str, int]]:
    """Every company-owned row of B's, as (model, pk), to aim view-on-site links at."""
    rows = []
    for model in apps.get_models():
        if any(f.name == "company" for f in model._meta.fields):
            for pk in model._base_manager.filter(company=victim.company).values_list("pk", flat=True):
                rows.append((model._meta.label, pk))
    return rows


def fillings(route: Route, victim: Tenant, attacker: Tenant) -> list[dict[str, str]] | None:
    """Ways to fill `route`'s parameters aiming at B; None when the probe cannot."""
    params = set(route.params)
    model = model_for(route)
    own = instance_of(model, attacker) if model else None
    theirs = instance_of(model, victim) if model else None
    own_pk = str(own.pk if own else 0)
    their_pk = str(theirs.pk if theirs else victim.member.pk)
    fillers: dict[frozenset[str], Callable[[], list[dict[str, str]]]] = {
        frozenset(): lambda: [{}],
        frozenset({"slug"}): lambda: [{"slug": area.slug} for area in AREAS],
        frozenset({"uidb64", "token"}): lambda: [
            {"uidb64": urlsafe_base64_encode(str(victim.member.pk).encode()), "token": "forged-token"},
            {"uidb64": urlsafe_base64_encode(str(victim.member.pk).encode()), "token": "set-password"},
        ],
        frozenset({"app_label"}): lambda: [{"app_label": "auth"}],
        frozenset({"url"}): lambda: [{"url": f"tenancy/companyrole/{victim.role.pk}/change/"}],
        frozenset({"content_type_id", "object_id"}): lambda: [
            {
                "content_type_id": str(ContentType.objects.get_for_model(apps.get_model(label)).pk),
                "object_id": str(pk),
            }
            for label, pk in owned_rows(victim)
        ],
        frozenset({"object_id"}): lambda: _object_fillings(route, victim),
        frozenset({"version_id"}): lambda: _version_fillings(route, victim),
        # django-guardian's pages: B's object, and A's own object with B's user.
        frozenset({"object_pk"}): lambda: [{"object_pk": their_pk}],
        frozenset({"object_pk", "user_id"}): lambda: [
            {"object_pk": their_pk, "user_id": str(victim.admin.pk)},
            {"object_pk": own_pk, "user_id": str(victim.admin.pk)},
        ],
        frozenset({"object_pk", "group_id"}): lambda: [
            {"object_pk": their_pk, "group_id": "1"},
            {"object_pk": own_pk, "group_id": "1"},
        ],
        frozenset({"object_id", "version_id"}): lambda: _version_fillings(route, victim),
    }
    filler = fillers.get(frozenset(params))
    return filler() if filler else None


def _object_fillings(route: Route, victim: Tenant) -> list[dict[str, str]]:
    model = model_for(route)
    instance = instance_of(model, victim) if model else None
    return [{"object_id": str(instance.pk if instance else victim.member.pk)}]


def _version_fillings(route: Route, victim: Tenant) -> list[dict[str, str]]:
    """B's recorded versions of the route's model (or of anything, if the model has none)."""
    model = model_for(route)
    versions = Version.objects.filter(revision__company_revision__company=victim.company)
    if model is not None and versions.filter(content_type=ContentType.objects.get_for_model(model)).exists():
        versions = versions.filter(content_type=ContentType.objects.get_for_model(model))
    return [{"object_id": v.object_id, "version_id": str(v.pk)} for v in versions.order_by("pk")[:3]]


def hostile_data(victim: Tenant, victim_ids: dict[str, Any]) -> dict[str, Any]:
    """Form fields and filters a curious user might set to B's ids."""
    ids = {
        "company": victim.company.pk,
        "user": victim.member.pk,
        "role": victim.role.pk,
        "roles": victim.role.pk,
        "company_roles": victim.role.pk,
        "assigned_to": victim.worker.pk,
        "object_id": victim.member.pk,
        "id": victim.member.pk,
        "pk": victim.member.pk,
        "company__id__exact": victim.company.pk,
        "_selected_action": [victim.member.pk, victim.role.pk, *victim_ids["all"]],
        "workflow": victim_ids["workflow"],
        "workflow__id__exact": victim_ids["workflow"],
        "from_task": victim_ids["task"],
        "to_task": victim_ids["task"],
        "ticket_definition": victim_ids["ticket_type"],
        "allowed_roles": victim.role.pk,
        "replace": victim_ids["workflow"],
        "permissions": ["change_workflowdefinition", "delete_workflowdefinition"],
        "task_definition": victim_ids["task"],
        "workflow_instance": victim_ids["run"],
    }
    return {**ids, "action": "delete_selected", "post": "yes", "q": "Bakery", "term": "Bakery"}


def snapshot(victim: Tenant) -> dict[str, list[dict[str, Any]]]:
    state: dict[str, list[dict[str, Any]]] = {
        "company": [dict(row) for row in Company.unscoped.filter(pk=victim.company.pk).values()],
        "users": [dict(row) for row in User.unscoped.filter(company=victim.company).order_by("pk").values()],
    }
    for model in apps.get_models():
        if (
            any(f.name == "company" for f in model._meta.fields)
            and model is not User
            and not model._meta.proxy
        ):
            state[model._meta.label] = list(
                model._base_manager.filter(company=victim.company).order_by("pk").values()
            )
    state["object_permissions"] = [
        dict(row)
        for row in UserObjectPermission.objects.filter(user__company=victim.company)
        .order_by("pk")
        .values("user_id", "permission_id", "object_pk")
    ]
    state["versions"] = [
        dict(row)
        for row in Version.objects.filter(revision__company_revision__company=victim.company)
        .order_by("pk")
        .values("pk", "serialized_data")
    ]
    return state


def make_victim_work(victim: Tenant) -> dict[str, Any]:
    """B's definitions (with two revisions), a ticket and its tasks, named so "bravo" shows."""
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["title"] = "Bravo oven repair"
    bundle["ticket_types"][0]["title"] = "Bravo oven ticket"
    workflow = bundle_import(actor=victim.designer, bundle=bundle).workflow
    assert workflow is not None
    bundle["workflow"]["description"] = "Bravo's second version"
    bundle_import(actor=victim.designer, bundle=bundle, into=workflow)
    ticket = make_ticket(victim.member, workflow, worker=victim.worker)
    with company_context(victim.company):
        tasks = list(workflow.tasks.values_list("pk", flat=True))
        return {
            "workflow": workflow.pk,
            "task": tasks[0],
            "ticket_type": workflow.ticket_types.get().pk,
            "run": ticket.workflow_instance_id,
            "all": [workflow.pk, *tasks, ticket.pk],
        }


def assert_nothing_of_b(response: Any, where: str) -> None:
    body = response.content.decode(errors="replace").lower()
    assert MARKER not in body, f"{where} shows company B's data"
    assert MARKER not in response.get("Location", "").lower(), f"{where} redirects to company B's data"
    assert response.status_code < 500, f"{where} answered {response.status_code}"


@pytest.mark.django_db
def test_no_url_shows_or_changes_another_companys_data(client: Client) -> None:
    tenant_a = make_tenant("Alpha Florists")
    victim = make_tenant("Bravo Bakery")
    operator = User.objects.create_superuser("operator@platform.test", "operator-password-1")
    make_ticket(tenant_a.member, make_workflow(tenant_a.designer), worker=tenant_a.worker)
    victim_ids = make_victim_work(victim)
    before = snapshot(victim)
    uncovered: list[str] = []
    probed = 0
    data = hostile_data(victim, victim_ids)

    for route in all_routes():
        filled = fillings(route, victim, tenant_a)
        if filled is None:
            uncovered.append(route.route)
            continue
        for values in filled:
            url = route.fill(values)
            for actor in [tenant_a.admin, tenant_a.member, operator, None]:
                client.logout()
                if actor is not None:
                    client.force_login(actor)
                who = actor.email if actor else "anonymous"
                assert_nothing_of_b(client.get(url, data), f"GET {url} as {who}")
                assert_nothing_of_b(client.post(url, data), f"POST {url} as {who}")
                probed += 1

    assert uncovered == [], "URL parameters the tenancy probe cannot fill yet; add a filler"
    assert snapshot(victim) == before, "a request changed company B's data"
    assert probed > len(AREAS) + 10  # the walk really walked


def test_probe_catches_a_page_that_leaks() -> None:
    """The leak check itself must be able to fail."""

    class Leaky:
        status_code = 200
        content = b"<td>Bravo Bakery</td>"

        def get(self, key: str, default: str) -> str:
            return default

    with pytest.raises(AssertionError):
        assert_nothing_of_b(Leaky(), "a leaky page")
