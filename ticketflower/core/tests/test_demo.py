import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from ticketflower.accounts.models import User
from ticketflower.core.demo import DEMO_FILE, demo_company_load
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.definitions.selectors import current_release, submittable_ticket_types
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole

pytestmark = pytest.mark.django_db


def test_demo_company_loads_idempotently_with_a_user_per_role(client: Client) -> None:
    spec = json.loads(DEMO_FILE.read_text())
    first = demo_company_load()
    again = demo_company_load()
    assert first == again
    admin = User.unscoped.get(email=spec["users"][0]["email"])
    assert admin.company is not None
    with company_context(admin.company):
        assert User.objects.count() == len(spec["users"])
        assert CompanyRole.objects.count() == len(spec["company_roles"])
    held = set().union(*(login.roles for login in first))
    assert held == {"admin", "user", "ticket_admin", "task_worker", "workflow_creator"}
    for login in first:
        assert set(User.unscoped.get(email=login.email).system_roles) == set(login.roles)


def test_printed_demo_logins_work(client: Client) -> None:
    for login in demo_company_load():
        response = client.post(
            reverse("accounts:login"), {"username": login.email, "password": login.password}
        )
        assert response.status_code == 302, login.email
        client.logout()


def test_demo_company_has_the_four_sample_workflows_published() -> None:
    demo_company_load()
    demo_company_load()  # safe to repeat: nothing is published twice
    admin = User.unscoped.get(email="admin@demo.ticketflower.test")
    with company_context(admin.company):  # type: ignore[arg-type]
        workflows = WorkflowDefinition.objects.order_by("title")
        assert [(w.title, [r.number for r in w.releases.all()]) for w in workflows] == [
            ("Customer complaint", [1]),
            ("Delivery booking", [1]),
            ("IT equipment request", [1]),
            ("Purchase order", [1]),
        ]
        assert len(submittable_ticket_types(admin)) == 4


def test_demo_actions_call_the_stand_ins_this_site_serves(settings: Settings) -> None:
    demo_company_load()
    admin = User.unscoped.get(email="admin@demo.ticketflower.test")
    with company_context(admin.company):  # type: ignore[arg-type]
        release = current_release(WorkflowDefinition.objects.get(title="Purchase order"))
    assert release is not None
    (action,) = [t for t in release.bundle["workflow"]["tasks"] if t["type"] == "SYNC_ACTION"]
    assert action["action_url"] == settings.PUBLIC_BASE_URL + "/demo/supplier/orders"
    # Another address for the site: the demo is published again with its URLs.
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9000"
    demo_company_load()
    with company_context(admin.company):  # type: ignore[arg-type]
        release = current_release(WorkflowDefinition.objects.get(title="Purchase order"))
    assert release is not None and release.number == 2
    assert "http://127.0.0.1:9000/demo/supplier/orders" in str(release.bundle)


def test_load_demo_refuses_when_debug_is_off(settings: Settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="runs only with DEBUG on"):
        call_command("load_demo", stdout=io.StringIO())
    assert not User.unscoped.filter(email="admin@demo.ticketflower.test").exists()


def test_load_demo_loads_the_demo_company_when_debug_is_on(settings: Settings) -> None:
    settings.DEBUG = True
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "Demo logins" in out.getvalue()
    assert User.unscoped.filter(email="admin@demo.ticketflower.test").exists()


def test_the_demo_purchase_approval_goes_to_the_finance_role_a_task_worker_holds() -> None:
    demo_company_load()
    admin = User.unscoped.get(email="admin@demo.ticketflower.test")
    with company_context(admin.company):  # type: ignore[arg-type]
        release = WorkflowDefinition.objects.get(title="Purchase order").releases.get()
        approval = release.bundle["workflow"]["tasks"][0]
        finance = CompanyRole.objects.get(name=approval["worker_role"])
        holders = list(finance.users.all())
    assert (approval["key"], approval["assignment"], approval["worker_role"]) == (
        "finance_approval",
        "auto",
        "Finance",
    )
    assert holders == [admin] and "task_worker" in admin.system_roles
