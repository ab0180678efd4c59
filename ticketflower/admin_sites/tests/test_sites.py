"""The role sites do their jobs: designers version and revert, admins manage people, ticket admins reassign."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from reversion.models import Version

from conftest import Tenant
from tests.factories import make_ticket, make_workflow
from ticketflower.accounts.models import User
from ticketflower.admin_sites.fields_editor import fields_form_data
from ticketflower.definitions.models import DefinitionStatus, TaskDefinition, WorkflowDefinition
from ticketflower.runtime.models import TaskInstance
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def change_form(workflow: WorkflowDefinition, **changes: str) -> dict[str, str]:
    with company_context(workflow.company):
        tasks = list(workflow.tasks.order_by("pk"))
        transitions = list(workflow.transitions.order_by("pk"))
    data = {
        "title": workflow.title,
        "description": workflow.description,
        "display_layout": "",
        "ext_ref": "[]",
        **fields_form_data("fields", workflow.fields),
        "tasks-TOTAL_FORMS": str(len(tasks)),
        "tasks-INITIAL_FORMS": str(len(tasks)),
        "transitions-TOTAL_FORMS": str(len(transitions)),
        "transitions-INITIAL_FORMS": str(len(transitions)),
    }
    for i, task in enumerate(tasks):
        data |= {f"tasks-{i}-id": str(task.pk), f"tasks-{i}-key": task.key, f"tasks-{i}-title": task.title}
        data |= {f"tasks-{i}-task_type": task.task_type, f"tasks-{i}-workflow": str(workflow.pk)}
    for i, t in enumerate(transitions):
        data |= {f"transitions-{i}-id": str(t.pk), f"transitions-{i}-workflow": str(workflow.pk)}
        data |= {
            f"transitions-{i}-from_task": str(t.from_task_id or ""),
            f"transitions-{i}-to_task": str(t.to_task_id),
        }
        data |= {f"transitions-{i}-condition": t.condition, f"transitions-{i}-priority": str(t.priority)}
    return data | changes


def test_editing_a_workflow_bumps_its_version_records_history_and_can_be_reverted(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    response = client.post(
        url, change_form(workflow, title="Laptop request", **{"transitions-1-condition": "data.approved ="})
    )
    assert response.status_code == 302
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
    assert (workflow.title, workflow.version) == ("Laptop request", 2)
    versions = list(Version.objects.get_for_object(workflow).order_by("pk"))
    assert len(versions) == 2

    # The designer compares the two versions and sees the broken condition.
    compare = client.get(
        reverse("design:definitions_workflowdefinition_compare", args=[workflow.pk]),
        {"a": versions[0].pk, "b": versions[1].pk},
    )
    diff = "\n".join(compare.context["diff"])
    assert '-    "title": "IT equipment request",' in diff
    assert '+    "title": "Laptop request",' in diff
    assert '+        "condition": "data.approved =",' in diff

    # ...and reverts to the first version: title and condition come back, the version grows.
    revert_url = reverse("design:definitions_workflowdefinition_revision", args=[workflow.pk, versions[0].pk])
    form = client.get(revert_url)
    assert form.status_code == 200
    response = client.post(
        revert_url,
        change_form(
            workflow, title="IT equipment request", **{"transitions-1-condition": "data.approved == true"}
        ),
    )
    assert response.status_code == 302
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
        assert workflow.title == "IT equipment request"
        assert workflow.transitions.order_by("pk")[1].condition == "data.approved == true"
    assert workflow.version == 3


def test_a_broken_condition_saved_in_the_admin_is_reported_and_keeps_the_workflow_a_draft(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    response = client.post(
        url, change_form(workflow, **{"transitions-1-condition": "data.approved &&"}), follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("workflow.transitions[1].condition" in m for m in messages)
    client.post(f"/design/definitions/workflowdefinition/{workflow.pk}/activate/", follow=True)
    with company_context(tenant_a.company):
        assert WorkflowDefinition.objects.get(pk=workflow.pk).status == DefinitionStatus.DRAFT


def test_activation_is_a_post_behind_a_confirmation_page(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = f"/design/definitions/workflowdefinition/{workflow.pk}/activate/"
    assert client.get(url).status_code == 200
    with company_context(tenant_a.company):
        assert WorkflowDefinition.objects.get(pk=workflow.pk).status == DefinitionStatus.DRAFT
    client.post(url)
    with company_context(tenant_a.company):
        assert WorkflowDefinition.objects.get(pk=workflow.pk).status == DefinitionStatus.ACTIVE


def test_a_company_admin_adds_a_worker_with_roles(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("company:accounts_user_add"),
        {
            "email": "New.Worker@Alpha.test",
            "first_name": "Nia",
            "last_name": "New",
            "password": "tulips-in-the-rain-42",
            "system_roles": ["task_worker", "user"],
            "roles": [str(tenant_a.role.pk)],
            "is_active": "on",
            "is_available": "on",
        },
    )
    assert response.status_code == 302
    worker = User.unscoped.get(email="new.worker@alpha.test")
    assert worker.company_id == tenant_a.company.pk
    assert worker.system_roles == {"task_worker", "user"}
    assert worker.check_password("tulips-in-the-rain-42")
    with company_context(tenant_a.company):
        assert list(worker.company_roles.all()) == [tenant_a.role]


def test_the_company_site_refuses_a_taken_address_and_the_last_admin_demotion(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client.force_login(tenant_a.admin)
    taken = client.post(
        reverse("company:accounts_user_add"),
        {
            "email": tenant_b.member.email,
            "first_name": "X",
            "last_name": "Y",
            "system_roles": ["user"],
            "is_active": "on",
        },
    )
    assert "email" in taken.context["adminform"].form.errors
    demote = client.post(
        reverse("company:accounts_user_change", args=[tenant_a.admin.pk]),
        {
            "email": tenant_a.admin.email,
            "first_name": "Ada",
            "last_name": "",
            "system_roles": ["user"],
            "is_active": "on",
        },
    )
    assert demote.status_code == 200
    assert "at least one active admin" in str(demote.context["adminform"].form.non_field_errors())
    assert "admin" in User.unscoped.get(pk=tenant_a.admin.pk).system_roles


def test_a_ticket_admin_reassigns_a_task_to_a_worker(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    ticket = make_ticket(tenant_a.member, make_workflow(tenant_a.designer))
    with company_context(tenant_a.company):
        task = TaskInstance.objects.get(workflow_instance=ticket.workflow_instance)
    client.force_login(tenant_a.ticket_admin)
    url = reverse("tickets:runtime_activetask_changelist")
    form = client.post(url, {"action": "reassign", "_selected_action": [task.pk]})
    assert form.status_code == 200
    with company_context(tenant_a.company):
        workers = list(form.context["form"].fields["assigned_to"].queryset)
    assert set(workers) == {tenant_a.admin, tenant_a.worker}  # both hold the task-worker role
    # Another company's worker is not a valid choice.
    refused = client.post(
        url, {"action": "reassign", "_selected_action": [task.pk], "assigned_to": tenant_b.worker.pk}
    )
    assert refused.status_code == 200 and "assigned_to" in refused.context["form"].errors
    with company_context(tenant_a.company):
        task.refresh_from_db()
    assert task.assigned_to_id is None
    client.post(url, {"action": "reassign", "_selected_action": [task.pk], "assigned_to": tenant_a.worker.pk})
    with company_context(tenant_a.company):
        task.refresh_from_db()
    assert task.assigned_to_id == tenant_a.worker.pk


def test_dashboards_show_each_roles_numbers(client: Client, tenant_a: Tenant) -> None:
    make_ticket(tenant_a.member, make_workflow(tenant_a.designer), worker=tenant_a.worker)
    client.force_login(tenant_a.admin)
    expectations = {
        "design:index": "Active workflows",
        "tickets:index": "Open tickets by type",
        "worker:index": "My open tasks",
        "company:index": "People per system role",
    }
    for name, text in expectations.items():
        page = client.get(reverse(name))
        assert page.status_code == 200 and text in page.text, name


def test_versions_only_grow_when_parts_are_added_removed_or_reverted(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)

    def version_of(model: Any, pk: int) -> int:
        return int(model.unscoped.get(pk=pk).version)

    add = client.post(
        reverse("design:definitions_taskdefinition_add"),
        {
            "workflow": workflow.pk,
            "key": "deliver",
            "title": "Deliver",
            "task_type": "FORM",
            "ext_ref": "[]",
            "input_schema": "{}",
            "output_schema": "{}",
        },
    )
    assert add.status_code == 302
    assert version_of(WorkflowDefinition, workflow.pk) == 2
    task = TaskDefinition.unscoped.get(key="deliver")
    change_url = reverse("design:definitions_taskdefinition_change", args=[task.pk])
    for title in ["Deliver it", "Deliver it now"]:
        data = {
            "workflow": workflow.pk,
            "key": "deliver",
            "title": title,
            "task_type": "FORM",
            "ext_ref": "[]",
            "input_schema": "{}",
            "output_schema": "{}",
        }
        assert client.post(change_url, data).status_code == 302
    assert version_of(TaskDefinition, task.pk) == 3
    first = Version.objects.get_for_object(task).order_by("pk").first()
    assert first is not None
    revert_url = reverse("design:definitions_taskdefinition_revision", args=[task.pk, first.pk])
    data = {
        "workflow": workflow.pk,
        "key": "deliver",
        "title": "Deliver",
        "task_type": "FORM",
        "ext_ref": "[]",
        "input_schema": "{}",
        "output_schema": "{}",
    }
    assert client.post(revert_url, data).status_code == 302
    assert version_of(TaskDefinition, task.pk) == 4  # not back to 1
    before = version_of(WorkflowDefinition, workflow.pk)
    assert (
        client.post(
            reverse("design:definitions_taskdefinition_delete", args=[task.pk]), {"post": "yes"}
        ).status_code
        == 302
    )
    assert version_of(WorkflowDefinition, workflow.pk) == before + 1


def test_bad_json_and_odd_query_strings_are_4xx_or_field_errors(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    response = client.post(url, change_form(workflow, ext_ref='[{"label": "x", "uri": NaN}]'))
    assert response.status_code == 200
    assert "ext_ref" in response.context["adminform"].form.errors
    for page in ["abc", "0", "99"]:
        assert client.get(reverse("design:search"), {"s": "work", "page": page}).status_code in (200, 400)


def test_a_download_names_the_file_safely(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    WorkflowDefinition.unscoped.filter(pk=workflow.pk).update(title='Bad "name"\r\nX-Evil: 1')
    client.force_login(tenant_a.designer)
    response = client.get(reverse("design:definitions_workflowdefinition_download", args=[workflow.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="bad-name-x-evil-1.json"'
