"""Per-model import and export stay inside the company (pitfall 7) and preview before writing."""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from tests.factories import make_workflow
from ticketflower.definitions.models import TaskDefinition, TicketDefinition, WorkflowDefinition
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


def test_an_unknown_role_name_in_a_ticket_type_import_is_a_row_error_never_everybody(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    rows = (
        "title,workflow,description,fields,allowed_roles\n"
        f"Order a desk,{workflow.title},,[],Alpha staff\n"
        f"Order a chair,{workflow.title},,[],Managers\n"
    )
    preview = import_csv(client, "design:definitions_ticketdefinition_import", rows)
    result = preview.context["result"]
    assert [(number, [str(e.error) for e in errors]) for number, errors in result.row_errors()] == [
        (
            2,
            [
                "Unknown company role(s): “Managers”. Create them on the company site first, or correct the name."
            ],
        )
    ]
    assert "Unknown company role(s): “Managers”" in preview.content.decode()
    assert preview.context.get("confirm_form") is None  # nothing to confirm
    # Nothing was written: not the good row either, and "Managers" never became "everybody".
    assert not TicketDefinition.unscoped.filter(title__in=["Order a desk", "Order a chair"]).exists()


def test_a_ticket_type_import_sets_who_may_submit_by_role_name(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    preview = import_csv(
        client,
        "design:definitions_ticketdefinition_import",
        f"title,workflow,description,fields,allowed_roles\nOrder a desk,{workflow.title},,[],ALPHA STAFF\n",
    )
    assert not preview.context["result"].has_validation_errors()
    done = client.post(
        reverse("design:definitions_ticketdefinition_process_import"),
        {
            "import_file_name": preview.context["confirm_form"]["import_file_name"].value(),
            "original_file_name": "rows.csv",
            "format": "0",
            "resource": "0",
        },
    )
    assert done.status_code == 302
    desk = TicketDefinition.unscoped.get(title="Order a desk")
    with company_context(tenant_a.company):
        assert list(desk.allowed_roles.all()) == [tenant_a.role]
        workflow.refresh_from_db()
    assert workflow.version == 2  # the import row is one recorded draft change


def test_titles_are_unique_per_company_in_forms_and_imports(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_workflow(tenant_b.designer)  # the same titles in another company are fine
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    clash = client.post(
        reverse("design:definitions_ticketdefinition_add"),
        {"title": "request IT EQUIPMENT", "workflow": workflow.pk, "fields": "[]", "ext_ref": "[]"},
    )
    assert clash.status_code == 200
    assert clash.context["adminform"].form.errors["title"] == [
        "Your company already has a ticket type called “request IT EQUIPMENT”."
    ]
    preview = import_csv(
        client,
        "design:definitions_workflowdefinition_import",
        "title,description\nit equipment REQUEST,Twin\n",
    )
    assert preview.context["result"].has_validation_errors()
    assert "Your company already has a workflow called" in preview.content.decode()
    assert WorkflowDefinition.unscoped.filter(company=tenant_a.company).count() == 1


def test_a_task_import_sets_who_works_on_it_by_role_name(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    preview = import_csv(
        client,
        "design:definitions_taskdefinition_import",
        f"workflow,key,title,task_type,assignment,worker_role\n{workflow.title},approve,Approve,FORM,pool,ALPHA STAFF\n",
    )
    assert not preview.context["result"].has_validation_errors()
    done = client.post(
        reverse("design:definitions_taskdefinition_process_import"),
        {
            "import_file_name": preview.context["confirm_form"]["import_file_name"].value(),
            "original_file_name": "rows.csv",
            "format": "0",
            "resource": "0",
        },
    )
    assert done.status_code == 302
    with company_context(tenant_a.company):
        approve = workflow.tasks.get(key="approve")
    assert (approve.assignment, approve.worker_role) == ("pool", tenant_a.role)


def test_an_unknown_worker_role_in_a_task_import_is_a_row_error(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    preview = import_csv(
        client,
        "design:definitions_taskdefinition_import",
        f"workflow,key,title,task_type,worker_role\n{workflow.title},approve,Approve,FORM,Bravo staff\n",
    )
    result = preview.context["result"]
    assert [row.field_specific_errors for row in result.invalid_rows] == [
        {
            "worker_role": [
                "Unknown company role “Bravo staff”. Create it on the company site first, or correct the name."
            ]
        }
    ]
    assert preview.context.get("confirm_form") is None  # nothing to confirm
    with company_context(tenant_a.company):
        assert workflow.tasks.get(key="approve").worker_role is None


def test_a_task_export_names_the_worker_role(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    with company_context(tenant_a.company):
        workflow.tasks.filter(key="approve").update(worker_role=tenant_a.role, assignment="pool")
    client.force_login(tenant_a.designer)
    response = client.post(
        reverse("design:definitions_taskdefinition_export"),
        {"format": "0", "resource": "0", "export_items": []},
    )
    rows = response.content.decode().splitlines()
    assert "assignment,worker_role" in rows[0]
    assert any(",approve," in row and ",pool,Alpha staff," in row for row in rows[1:])


def test_a_task_import_with_code_that_does_not_parse_is_a_row_error_naming_the_line(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    broken = '"def run(input, context):\n    return {\n"'
    preview = import_csv(
        client,
        "design:definitions_taskdefinition_import",
        f"workflow,key,title,task_type,code\n{workflow.title},tally,Tally,CODE,{broken}\n",
    )
    result = preview.context["result"]
    assert [row.field_specific_errors for row in result.invalid_rows] == [
        {"code": ["Line 2, column 12: The code does not parse: '{' was never closed."]}
    ]
    assert preview.context.get("confirm_form") is None
    with company_context(tenant_a.company):
        assert not workflow.tasks.filter(key="tally").exists()
    good = '"def run(input, context):\n    return {}\n"'
    preview = import_csv(
        client,
        "design:definitions_taskdefinition_import",
        f"workflow,key,title,task_type,code\n{workflow.title},tally,Tally,CODE,{good}\n",
    )
    assert not preview.context["result"].has_validation_errors()
