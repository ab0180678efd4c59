"""API views act for the token's company only: never the session's, and for none without a token."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import Tenant
from tests.factories import bearer, make_api_token
from ticketflower.api.base import CompanyScopedApiMixin
from ticketflower.api.views import DocsView

pytestmark = pytest.mark.django_db


@pytest.mark.urls("ticketflower.api.tests.urls")
def test_a_view_acts_for_the_tokens_company(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    response = client.get("/api/test/who/", headers=bearer(make_api_token(tenant_a.member)))
    assert response.json() == {"company": "Alpha Florists", "users": 5}


@pytest.mark.urls("ticketflower.api.tests.urls")
def test_a_view_without_a_token_has_no_company_even_with_a_session(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)  # the middleware acts for Alpha for this request
    response = client.get("/api/test/who/")
    assert response.json() == {"company": None, "users": "refused"}


@pytest.mark.urls("ticketflower.api.tests.urls")
def test_a_token_wins_over_another_companys_session(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client.force_login(tenant_b.admin)
    response = client.get("/api/test/who/", headers=bearer(make_api_token(tenant_a.member)))
    assert response.json() == {"company": "Alpha Florists", "users": 5}


def api_views() -> list[tuple[str, type]]:
    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> list[tuple[str, type]]:
        found = []
        for entry in patterns:
            if isinstance(entry, URLResolver):
                found += walk(entry.url_patterns, prefix + str(entry.pattern))
            elif prefix.startswith("api/"):
                found.append((prefix + str(entry.pattern), entry.callback.view_class))  # type: ignore[attr-defined]
        return found

    return walk(get_resolver().url_patterns, "")


def test_every_api_view_is_company_scoped() -> None:
    views = api_views()
    assert len(views) >= 4
    unscoped = [
        route for route, view in views if view is not DocsView and not issubclass(view, CompanyScopedApiMixin)
    ]
    assert unscoped == [], "API views must derive from ticketflower.api.base.ApiView / ApiGenericView"
