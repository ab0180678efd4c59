"""Every registered URL pattern, and ways to fill its parameters with one company's things.

`fillings(route, target, actor_company)` answers with the target company's ids: for the walk
aimed at B, B's objects (and, for pages that pair two ids, A's object with B's user); for the
form replay, A's own objects. An object id is one of the rows the admin page would open for
the target company's own people (first and last by id), so an "archived" page gets a finished
task and a "my tasks" page a task assigned to someone. A pattern whose parameters no filler
knows answers None, and the probe fails until a filler is added here.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.apps import apps
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.http import urlsafe_base64_encode
from reversion.models import Version

from conftest import Tenant
from ticketflower.accounts.models import ApiToken
from ticketflower.admin_sites.company import company_site
from ticketflower.admin_sites.design import design_site
from ticketflower.admin_sites.tickets import tickets_site
from ticketflower.admin_sites.worker import worker_site
from ticketflower.codetasks.models import CodeTrial
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.files.models import FileUpload
from ticketflower.portal.selectors import AREAS
from ticketflower.runtime.models import TicketInstance
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company

from .marked_data import owned_rows

_ALL_SITES: list[AdminSite] = [design_site, tickets_site, worker_site, company_site, admin.site]
SITES: dict[str, AdminSite] = {site.name: site for site in _ALL_SITES}
# django-reversion's patterns use unnamed groups: an object id and a version id.
UNNAMED_GROUPS = {"([^/]+)": "object_id", "(\\d+)": "version_id"}


@dataclass(frozen=True)
class Route:
    route: str  # the full pattern, e.g. "admin/auth/group/<path:object_id>/change/"
    name: str | None

    @property
    def params(self) -> list[str]:
        named = [a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", self.route)]
        unnamed = [name for group, name in UNNAMED_GROUPS.items() if group in self.route]
        return named + unnamed

    @property
    def is_api(self) -> bool:
        """Under /api/: walked with bearer tokens by api.py, not with a session here."""
        return self.route.startswith("api/")

    @property
    def site(self) -> AdminSite | None:
        return SITES.get(self.route.split("/", 1)[0])

    def fill(self, values: dict[str, str]) -> str:
        # Regular-expression groups first: their "(?P<name>" would look like a path converter.
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], self.route)
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
        for group, name in UNNAMED_GROUPS.items():
            path = path.replace(group, values.get(name, group))
        return "/" + path.replace("^", "").replace("$", "")


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


def target_pks(route: Route, target: Tenant) -> list[str]:
    """Ids of `route`'s model that the target company's own people open on this page (first, last)."""
    model = model_for(route)
    if model is None:
        return [str(target.member.pk)]
    site = route.site
    model_admin = site._registry.get(model) if site is not None else None
    found: set[int] = set()
    if model_admin is not None and site is not admin.site:
        with company_context(target.company):
            for user in target.users:
                request = RequestFactory().get("/")
                request.user = user
                if site is not None and site.has_permission(request):
                    found |= set(model_admin.get_queryset(request).values_list("pk", flat=True))
    if not found and model_admin is None and any(f.name == "company" for f in model._meta.fields):
        # A page of its own, not a ModelAdmin's (the assistant's conversations): first and last row.
        found = {int(pk) for pk in _rows(model, target)}
    if not found:
        row = instance_of(model, target)
        found = {row.pk} if row is not None else {target.member.pk}
    ordered = sorted(found)
    return [str(pk) for pk in dict.fromkeys([ordered[0], ordered[-1]])]


def instance_of(model: type[models.Model], tenant: Tenant) -> models.Model | None:
    """The tenant's first row of `model` (or, for a platform-wide model, any row)."""
    if model is Company:
        return tenant.company
    if any(f.name == "company" for f in model._meta.fields):
        return model._base_manager.filter(company=tenant.company).order_by("pk").first()
    return model._base_manager.order_by("pk").first()


def _versions(route: Route, target: Tenant, *, with_object: bool) -> list[dict[str, str]]:
    """The target company's recorded versions of the route's model (or of anything, if it has none)."""
    model = model_for(route)
    versions = Version.objects.filter(revision__company_revision__company=target.company)
    if model is not None:
        content_type = ContentType.objects.get_for_model(model)
        if versions.filter(content_type=content_type).exists():
            versions = versions.filter(content_type=content_type)
    chosen = list(versions.order_by("pk")[:2]) + list(versions.order_by("-pk")[:1])
    return [
        {"object_id": v.object_id, "version_id": str(v.pk)} if with_object else {"version_id": str(v.pk)}
        for v in dict.fromkeys(chosen)
    ]


def fillings(route: Route, target: Tenant, actor: Tenant) -> list[dict[str, str]] | None:
    """Ways to fill `route`'s parameters with `target`'s things; None when the probe cannot.

    `actor` is the company whose people will open the URLs: when it is not the target, pages
    that pair an object with a person are also tried with the actor's own object and the
    target's person.
    """
    hostile = target is not actor
    params = set(route.params)
    theirs = target_pks(route, target)
    own = target_pks(route, actor)
    pairs = [(pk, str(target.admin.pk)) for pk in theirs[:1]]
    if hostile:
        pairs += [(pk, str(target.admin.pk)) for pk in own[:1]]
    member = urlsafe_base64_encode(str(target.member.pk).encode())
    fillers: dict[frozenset[str], Callable[[], list[dict[str, str]] | None]] = {
        frozenset(): lambda: [{}],
        frozenset({"slug"}): lambda: [{"slug": area.slug} for area in AREAS],
        frozenset({"uidb64", "token"}): lambda: (
            [{"uidb64": member, "token": "forged-token"}, {"uidb64": member, "token": "set-password"}]
            if hostile
            else [{"uidb64": member, "token": default_token_generator.make_token(target.member)}]
        ),
        frozenset({"app_label"}): lambda: [
            {"app_label": label} for label in _alternatives(route, "app_label")
        ],
        frozenset({"url"}): lambda: [{"url": f"tenancy/companyrole/{target.role.pk}/change/"}],
        frozenset({"content_type_id", "object_id"}): lambda: _view_on_site(target, every_row=hostile),
        frozenset({"object_id"}): lambda: [{"object_id": pk} for pk in theirs],
        # The profile page's "revoke" link: the target company's tokens.
        frozenset({"token_id"}): lambda: [
            {"token_id": str(pk)}
            for pk in ApiToken.unscoped.filter(company=target.company).values_list("pk", flat=True)
        ],
        # The portal's pages name their model by the parameter (or, for "pk", by the page).
        frozenset({"ticket_type_id"}): lambda: [
            {"ticket_type_id": pk} for pk in _rows(ReleaseTicketType, target)
        ],
        frozenset({"pk"}): lambda: _portal_pks(route, target),
        # A designer's tries of code (design:code_trial).
        frozenset({"trial_id"}): lambda: [{"trial_id": pk} for pk in _rows(CodeTrial, target)],
        frozenset({"version_id"}): lambda: _versions(route, target, with_object=False),
        frozenset({"object_id", "version_id"}): lambda: _versions(route, target, with_object=True),
        # django-guardian's pages: an object, an object and a person, an object and a group.
        frozenset({"object_pk"}): lambda: [{"object_pk": pk} for pk in theirs],
        frozenset({"object_pk", "user_id"}): lambda: [{"object_pk": o, "user_id": u} for o, u in pairs],
        frozenset({"object_pk", "group_id"}): lambda: [{"object_pk": o, "group_id": "1"} for o, _ in pairs],
    }
    filler = fillers.get(frozenset(params))
    return filler() if filler else None


# Pages with a bare <pk>, and the model it is an id of.
PORTAL_PK_MODELS: dict[str, type[models.Model]] = {
    "portal:ticket": TicketInstance,
    "portal:submitted": TicketInstance,
    "files:download": FileUpload,
}


def _rows(model: type[models.Model], target: Tenant) -> list[str]:
    """The target company's first and last row of `model`: an old release's and the latest, say."""
    rows = model._base_manager.filter(company=target.company).order_by("pk")
    found = [rows.first(), rows.last()]
    return [str(pk) for pk in dict.fromkeys(row.pk for row in found if row is not None)]


def _portal_pks(route: Route, target: Tenant) -> list[dict[str, str]] | None:
    model = PORTAL_PK_MODELS.get(route.name or "")
    return None if model is None else [{"pk": pk} for pk in _rows(model, target)]


def _alternatives(route: Route, group: str) -> list[str]:
    """The choices of a pattern's named group such as (?P<app_label>auth|axes)."""
    match = re.search(rf"\(\?P<{group}>([\w|]+)\)", route.route)
    return match.group(1).split("|") if match else ["auth"]


def _view_on_site(target: Tenant, *, every_row: bool) -> list[dict[str, str]]:
    """Every row of the target company's (aiming at it), or one of each kind (its own walk)."""
    return [
        {"content_type_id": str(ContentType.objects.get_for_model(model).pk), "object_id": str(pk)}
        for model, pks in owned_rows(target.company).items()
        for pk in (pks if every_row else pks[:1])
    ]
