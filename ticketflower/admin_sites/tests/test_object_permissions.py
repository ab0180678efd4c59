"""Per-object rights: a task is its assignee's alone; designers in a restricted company (django-guardian)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from conftest import Tenant
from tests.factories import make_ticket, make_workflow
from ticketflower.accounts.models import User
from ticketflower.definitions.models import WorkflowDefinition, WorkflowRelease
from ticketflower.runtime.models import TaskInstance
from ticketflower.runtime.services import tasks_reassign
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company

pytestmark = pytest.mark.django_db


def test_a_task_page_follows_the_assignee(client: Client, tenant_a: Tenant) -> None:
    ticket = make_ticket(tenant_a.member, make_workflow(tenant_a.designer), worker=tenant_a.worker)
    with company_context(tenant_a.company):
        task = TaskInstance.objects.get(workflow_instance=ticket.workflow_instance)
    page = reverse("worker:runtime_mytask_change", args=[task.pk])
    client.force_login(tenant_a.worker)
    assert client.get(page).status_code == 200
    tasks_reassign(actor=tenant_a.ticket_admin, tasks=[task], worker=tenant_a.admin)
    assert client.get(page).status_code == 404  # not found for the former assignee
    client.force_login(tenant_a.admin)
    assert client.get(page).status_code == 200


@pytest.fixture
def restricted(tenant_a: Tenant) -> WorkflowDefinition:
    workflow = make_workflow(tenant_a.admin)  # made by the admin, not by the designer
    Company.unscoped.filter(pk=tenant_a.company.pk).update(restrict_definitions=True)
    return workflow


def test_in_a_restricted_company_a_designer_needs_the_right_on_the_workflow(
    client: Client, tenant_a: Tenant, restricted: WorkflowDefinition
) -> None:
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[restricted.pk])
    page = client.get(url)
    assert page.status_code == 200 and not page.context["has_change_permission"]  # read-only
    assert client.post(url, {"title": "Changed"}).status_code == 403
    with company_context(tenant_a.company):
        task = restricted.tasks.first()
    assert task is not None
    assert (
        client.post(reverse("design:definitions_taskdefinition_change", args=[task.pk]), {}).status_code
        == 403
    )

    # The workflow's author grants the right on its Permissions page.
    client.force_login(tenant_a.admin)
    perms_url = reverse("design:definitions_workflowdefinition_permissions", args=[restricted.pk])
    chosen = client.post(perms_url, {"user": tenant_a.designer.email, "submit_manage_user": "1"})
    manage_url = reverse(
        "design:definitions_workflowdefinition_permissions_manage_user",
        args=[restricted.pk, tenant_a.designer.pk],
    )
    assert chosen.status_code == 302 and chosen["Location"] == manage_url
    client.post(manage_url, {"permissions": ["change_workflowdefinition"]})
    client.force_login(tenant_a.designer)
    assert client.get(url).context["has_change_permission"]


def test_the_permission_pages_know_only_the_companys_people(
    client: Client, tenant_a: Tenant, tenant_b: Tenant, restricted: WorkflowDefinition
) -> None:
    client.force_login(tenant_a.admin)
    perms_url = reverse("design:definitions_workflowdefinition_permissions", args=[restricted.pk])
    other = client.post(perms_url, {"user": tenant_b.admin.email, "submit_manage_user": "1"})
    assert other.status_code == 200 and "This user does not exist" in other.text
    missing = client.post(perms_url, {"user": "nobody@nowhere.test", "submit_manage_user": "1"})
    assert "This user does not exist" in missing.text  # the same answer: nothing to infer
    user_url = reverse(
        "design:definitions_workflowdefinition_permissions_manage_user",
        args=[restricted.pk, tenant_b.admin.pk],
    )
    assert client.get(user_url).status_code == 404
    assert client.post(user_url, {"permissions": ["change_workflowdefinition"]}).status_code == 404
    group_url = reverse(
        "design:definitions_workflowdefinition_permissions_manage_group", args=[restricted.pk, 1]
    )
    assert client.get(group_url).status_code == 404
    assert not tenant_b.admin.has_perm("definitions.change_workflowdefinition", restricted)


def test_an_unrestricted_company_lets_every_designer_edit(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.admin)
    client.force_login(tenant_a.designer)
    page = client.get(reverse("design:definitions_workflowdefinition_change", args=[workflow.pk]))
    assert page.context["has_change_permission"]


def test_in_a_restricted_company_new_tasks_and_uploads_go_only_into_editable_workflows(
    client: Client, tenant_a: Tenant, restricted: WorkflowDefinition
) -> None:
    client.force_login(tenant_a.designer)
    response = client.post(
        reverse("design:definitions_taskdefinition_add"),
        {"workflow": restricted.pk, "key": "sneaky", "title": "Sneaky", "task_type": "FORM", "ext_ref": "[]"},
    )
    assert "workflow" in response.context["adminform"].form.errors
    page = client.get(reverse("design:definitions_workflowdefinition_upload"))
    with company_context(tenant_a.company):
        assert list(page.context["form"].fields["replace"].queryset) == []
    from tests.factories import load_bundle
    from ticketflower.definitions import services

    designer = User.unscoped.select_related("company").get(pk=tenant_a.designer.pk)  # sees the new setting
    with pytest.raises(PermissionDenied):
        services.bundle_import(
            actor=designer, bundle=load_bundle("it-equipment-request.yaml"), into=restricted
        )


def test_a_restricted_designer_cannot_grant_themselves_the_right_or_act_on_the_workflow(
    client: Client, tenant_a: Tenant, restricted: WorkflowDefinition
) -> None:
    client.force_login(tenant_a.designer)
    perms_url = reverse("design:definitions_workflowdefinition_permissions", args=[restricted.pk])
    manage_url = reverse(
        "design:definitions_workflowdefinition_permissions_manage_user",
        args=[restricted.pk, tenant_a.designer.pk],
    )
    assert client.get(perms_url).status_code == 404
    assert client.post(manage_url, {"permissions": ["change_workflowdefinition"]}).status_code == 404
    assert not tenant_a.designer.has_perm("definitions.change_workflowdefinition", restricted)
    base = f"/design/definitions/workflowdefinition/{restricted.pk}"
    assert client.post(f"{base}/publish/").status_code == 403
    assert client.post(f"{base}/withdraw/").status_code == 403
    assert not WorkflowRelease.unscoped.filter(workflow=restricted).exists()
    from ticketflower.definitions import services

    designer = User.unscoped.select_related("company").get(pk=tenant_a.designer.pk)
    with pytest.raises(PermissionDenied):
        services.workflow_publish(actor=designer, workflow=restricted)


def test_a_restricted_designer_cannot_import_into_a_workflow_they_may_not_edit(
    client: Client, tenant_a: Tenant, restricted: WorkflowDefinition
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(tenant_a.designer)
    rows = "workflow,key,title,task_type\nIT equipment request,sneaky,Sneaky,FORM\n"
    upload = SimpleUploadedFile("rows.csv", rows.encode(), content_type="text/csv")
    preview = client.post(
        reverse("design:definitions_taskdefinition_import"),
        {"import_file": upload, "format": "0", "resource": "0"},
    )
    result = preview.context["result"]
    assert result.has_errors()
    assert "You may not change this workflow" in str(result.row_errors()[0][1][0].error)
    update = "title,description\nIT equipment request,Hijacked\n"
    upload = SimpleUploadedFile("rows.csv", update.encode(), content_type="text/csv")
    preview = client.post(
        reverse("design:definitions_workflowdefinition_import"),
        {"import_file": upload, "format": "0", "resource": "0"},
    )
    assert preview.context["result"].has_errors()
    assert WorkflowDefinition.unscoped.get(pk=restricted.pk).description != "Hijacked"
