"""Every response carries the Content-Security-Policy; admin pop-ups alone may be framed (by us)."""

import hashlib
import re
from pathlib import Path

import pytest
import unfold
from django.test import Client
from django.urls import reverse

from conftest import Tenant

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
UNFOLD_TEMPLATES = Path(unfold.__file__).parent / "templates"


def policy(response: object) -> dict[str, list[str]]:
    header: str = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    directives = (part.strip().split() for part in header.split(";"))
    return {name: values for name, *values in directives}


@pytest.mark.parametrize(
    "url_name", ["accounts:login", "accounts:signup", "accounts:password_reset", "portal:dashboard"]
)
def test_pages_refuse_inline_script_framing_plugins_and_foreign_forms(client: Client, url_name: str) -> None:
    found = policy(client.get(reverse(url_name), follow=True))
    assert found["script-src"] == ["'self'"]
    assert found["frame-ancestors"] == ["'none'"]
    assert found["object-src"] == ["'none'"]
    assert found["base-uri"] == ["'self'"]
    assert found["form-action"] == ["'self'"]
    assert found["default-src"] == ["'self'"]


def test_a_role_site_page_has_the_policy_and_its_style_element_the_nonce(
    client: Client, tenant_a: Tenant
) -> None:
    client.force_login(tenant_a.designer)
    response = client.get(reverse("design:index"))
    found = policy(response)
    nonce = re.search(r'<style id="unfold-theme-colors" nonce="([^"]+)"', response.content.decode())
    assert nonce is not None
    assert found["style-src-elem"] == ["'self'", f"'nonce-{nonce.group(1)}'"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert "alpine-csp.min.js" in response.content.decode()


def test_each_response_gets_a_new_nonce(client: Client) -> None:
    first, second = (policy(client.get(reverse("accounts:login")))["style-src-elem"] for _ in range(2))
    assert first != second


def test_an_admin_pop_up_may_be_framed_by_this_site_only(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_add")
    popup = client.get(url, {"_popup": "1", "_to_field": "id"})
    assert popup.status_code == 200
    assert policy(popup)["frame-ancestors"] == ["'self'"]
    assert popup.headers["X-Frame-Options"] == "SAMEORIGIN"
    # (unfold itself answers X-Frame-Options: SAMEORIGIN on every change form; the policy's
    # frame-ancestors 'none' is what browsers obey.)
    assert policy(client.get(url))["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize(
    ("template", "unfold_sha256"),
    [
        ("unfold/layouts/skeleton.html", "062bb8d9caf56385289bde95c57e06c13dfc598fc3463332f967e8b52724d84c"),
        ("admin/nav_sidebar.html", "9ded21d2f1036a58f72624a573643ddb66887280fa696621289d6cf959d4eb08"),
        (
            "unfold/helpers/navigation_user.html",
            "df49db2d72d7e8f24e0252b832a0fc0b14f309d47e3655fbaf3f08b4c5a4aae9",
        ),
        ("unfold/helpers/command.html", "e10d80a03e4657fadeff1badb421728a0e63e020f4f85092692a430d4d59cf6a"),
    ],
)
def test_the_unfold_templates_we_copied_are_unchanged_upstream(template: str, unfold_sha256: str) -> None:
    """When unfold changes one of these, carry its change into our copy in templates/, then update the hash."""
    assert (TEMPLATES / template).exists()
    assert hashlib.sha256((UNFOLD_TEMPLATES / template).read_bytes()).hexdigest() == unfold_sha256
