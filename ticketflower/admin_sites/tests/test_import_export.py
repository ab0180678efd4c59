"""Per-model import and export stay inside the company (pitfall 7) and preview before writing."""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from tests.factories import make_workflow
from ticketflower.definitions.models import TaskDefinition, WorkflowDefinition
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole

pytestmark = pytest.mark.django_db


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")


def import_csv(client: Client, url_name: str, text: str) -> Any:
    return client.post(reverse(url_name), {"import_file": csv_upload(text), "format": "0", "resource": "0"})


def test_a_role_import_previews_then_creates_in_the_company_and_ignores_company_columns(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client.force_login(tenant_a.admin)
    text = f"name,description,company,id\nDrivers,Van drivers,{tenant_b.company.pk},{tenant_b.role.pk}\n"
    preview = import_csv(client, "company:tenancy_companyrole_import", text)
    assert preview.status_code == 200
    assert not CompanyRole.unscoped.filter(name="Drivers").exists()  # dry run wrote nothing
    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    confirm = client.post(
        reverse("company:tenancy_companyrole_process_import"),
        {
            "import_file_name": preview.context["confirm_form"]["import_file_name"].value(),
            "original_file_name": "rows.csv",
            "format": "0",
            "resource": "0",
        },
    )
    assert confirm.status_code == 302
    drivers = CompanyRole.unscoped.get(name="Drivers")
    assert drivers.company_id == tenant_a.company.pk
    assert CompanyRole.unscoped.get(pk=tenant_b.role.pk).name == "Bravo staff"


def test_an_import_matches_rows_by_name_and_cannot_reach_another_companys_role(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client.force_login(tenant_a.admin)
    # "Bravo staff" is B's role name: for A it is a new row, B's row is untouched.
    preview = import_csv(
        client, "company:tenancy_companyrole_import", "name,description\nBravo staff,Hijacked\n"
    )
    rows = preview.context["result"].rows
    assert [row.import_type for row in rows] == ["new"]
    assert CompanyRole.unscoped.get(pk=tenant_b.role.pk).description == "Everybody at Bravo Bakery"


def test_a_task_import_resolves_workflows_only_in_the_company(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    b_workflow = make_workflow(tenant_b.designer)
    with company_context(tenant_b.company):
        WorkflowDefinition.objects.filter(pk=b_workflow.pk).update(title="Bravo oven repair")
    client.force_login(tenant_a.designer)
    preview = import_csv(
        client,
        "design:definitions_taskdefinition_import",
        "workflow,key,title,task_type\nBravo oven repair,planted,Planted,FORM\n",
    )
    result = preview.context["result"]
    assert result.has_errors() or result.has_validation_errors()
    assert "bravo" not in preview.content.decode().lower().replace("bravo oven repair", "")
    assert not TaskDefinition.unscoped.filter(key="planted").exists()


def test_exports_hold_only_the_companys_rows(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    make_workflow(tenant_b.designer)
    make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    response = client.post(
        reverse("design:definitions_taskdefinition_export"),
        {"format": "0", "resource": "0", "export_items": []},
    )
    body = response.content.decode()
    assert body.count("IT equipment request") == 3  # A's three tasks, not B's
    client.force_login(tenant_a.admin)
    people = client.post(reverse("company:accounts_user_export"), {"format": "0", "resource": "0"})
    text = people.content.decode()
    assert "admin@alpha-florists.test" in text and "bravo" not in text.lower()
    assert "password" not in text.lower()


def test_a_role_name_clash_is_a_row_error_with_the_reason(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    preview = import_csv(
        client, "company:tenancy_companyrole_import", "name,description\nALPHA STAFF,Same name\n"
    )
    result = preview.context["result"]
    assert result.has_validation_errors()
    assert "already has a role with this name" in preview.content.decode()
    assert CompanyRole.unscoped.filter(company=tenant_a.company).count() == 1
