"""The role sites do their jobs: designers version and revert, admins manage people, ticket admins reassign."""

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from reversion.models import Version

from conftest import Tenant
from tests.factories import make_company_role, make_release, make_ticket, make_workflow
from ticketflower.accounts.models import User
from ticketflower.admin_sites.fields_editor import fields_form_data
from ticketflower.definitions.bundles import workflow_bundle
from ticketflower.definitions.models import TaskDefinition, WorkflowDefinition, WorkflowRelease
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
    keys = {task.pk: task.key for task in tasks}
    for i, t in enumerate(transitions):
        data |= {f"transitions-{i}-id": str(t.pk), f"transitions-{i}-workflow": str(workflow.pk)}
        data |= {
            f"transitions-{i}-source": keys.get(t.from_task_id, "") if t.from_task_id else "",
            f"transitions-{i}-target": keys[t.to_task_id],
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


def test_a_broken_condition_saved_in_the_admin_is_named_as_the_page_shows_it_and_blocks_publishing(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    response = client.post(
        url, change_form(workflow, **{"transitions-1-condition": "data.approved &&"}), follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Saved as draft version 2. Not published yet;") for m in messages), messages
    assert any(
        m.startswith(
            "Transition 2 (Manager approval → Order the equipment), condition: The condition does not parse"
        )
        for m in messages
    ), messages
    published = client.post(f"/design/definitions/workflowdefinition/{workflow.pk}/publish/", follow=True)
    assert "Not published: the draft has problems." in [str(m) for m in published.context["messages"]]
    assert not WorkflowRelease.unscoped.exists()


def test_publishing_is_a_post_behind_a_confirmation_page_with_a_note(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = f"/design/definitions/workflowdefinition/{workflow.pk}/publish/"
    page = client.get(url)
    assert page.status_code == 200 and "draft version 1" in page.text
    assert not WorkflowRelease.unscoped.exists()
    done = client.post(url, {"note": "Ready for the team"}, follow=True)
    assert any("Published release #1" in str(m) for m in done.context["messages"])
    assert WorkflowRelease.unscoped.get().note == "Ready for the team"
    status = client.get(reverse("design:definitions_workflowdefinition_change", args=[workflow.pk]))
    assert "Release #1 is live; the draft (version 1) is what it publishes." in status.text


def test_saving_a_published_workflow_says_the_release_stays_live(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    make_release(tenant_a.designer, workflow)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    response = client.post(url, change_form(workflow, title="Laptop request"), follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert "Saved as draft version 2. Release #1 is live; draft version 2 is ready to publish." in messages
    diff = client.get(reverse("design:definitions_workflowdefinition_release_diff", args=[workflow.pk]))
    assert '+    "title": "Laptop request",' in "\n".join(diff.context["diff"])


def test_a_new_workflow_with_tasks_and_transitions_is_saved_at_once(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.designer)
    data = {
        "title": "Laptop repair",
        "description": "",
        "fields": "[]",
        "display_layout": "",
        "ext_ref": "[]",
        "tasks-TOTAL_FORMS": "2",
        "tasks-INITIAL_FORMS": "0",
        "tasks-0-key": "",
        "tasks-0-title": "Check In",
        "tasks-0-task_type": "FORM",
        "tasks-1-key": "",
        "tasks-1-title": "Quote",
        "tasks-1-task_type": "FORM",
        "transitions-TOTAL_FORMS": "2",
        "transitions-INITIAL_FORMS": "0",
        "transitions-0-source": "",
        "transitions-0-target": "check in",  # a title, as typed
        "transitions-0-condition": "",
        "transitions-0-priority": "0",
        "transitions-1-source": "check_in",
        "transitions-1-target": "Quote",
        "transitions-1-condition": "",
        "transitions-1-priority": "0",
    }
    response = client.post(reverse("design:definitions_workflowdefinition_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    workflow = WorkflowDefinition.unscoped.get(title="Laptop repair")
    with company_context(tenant_a.company):
        assert sorted(workflow.tasks.values_list("key", flat=True)) == ["check_in", "quote"]
        edges = [
            (t.from_task.key if t.from_task else None, t.to_task.key) for t in workflow.transitions.all()
        ]
    assert edges == [(None, "check_in"), ("check_in", "quote")]


def test_a_task_key_in_plain_words_gets_a_plain_answer(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    response = client.post(
        reverse("design:definitions_taskdefinition_add"),
        {
            "workflow": workflow.pk,
            "key": "Check In",
            "title": "Check in",
            "task_type": "FORM",
            "ext_ref": "[]",
            "input_schema": "{}",
            "output_schema": "{}",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["key"] == [
        "A key has only letters, digits, - and _ (no spaces): try “check_in”."
    ]


def test_a_transition_to_an_unknown_task_is_a_field_error(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    response = client.post(url, change_form(workflow, **{"transitions-1-target": "Shipping"}))
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][1].formset.errors[1]
    assert errors["target"] == [
        "No task “Shipping” in this workflow: type a task's key or title, or pick one."
    ]


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
    ticket = make_ticket(tenant_a.member, make_workflow(tenant_a.designer), worker=tenant_a.admin)
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
    assert task.assigned_to_id == tenant_a.admin.pk
    client.post(url, {"action": "reassign", "_selected_action": [task.pk], "assigned_to": tenant_a.worker.pk})
    with company_context(tenant_a.company):
        task.refresh_from_db()
    assert task.assigned_to_id == tenant_a.worker.pk


def test_dashboards_show_each_roles_numbers(client: Client, tenant_a: Tenant) -> None:
    make_ticket(tenant_a.member, make_workflow(tenant_a.designer), worker=tenant_a.worker)
    client.force_login(tenant_a.admin)
    expectations = {
        "design:index": "Published workflows",
        "tickets:index": "Open tickets by type",
        "worker:index": "My open tasks",
        "company:index": "People per system role",
    }
    for name, text in expectations.items():
        page = client.get(reverse(name))
        assert page.status_code == 200 and text in page.text, name


def test_the_draft_version_grows_when_parts_are_added_edited_reverted_or_removed(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)

    def version() -> int:
        return int(WorkflowDefinition.unscoped.get(pk=workflow.pk).version)

    def task_form(title: str) -> dict[str, Any]:
        return {
            "workflow": workflow.pk,
            "key": "deliver",
            "title": title,
            "task_type": "FORM",
            "ext_ref": "[]",
            "input_schema": "{}",
            "output_schema": "{}",
        }

    assert (
        client.post(reverse("design:definitions_taskdefinition_add"), task_form("Deliver")).status_code == 302
    )
    assert version() == 2
    task = TaskDefinition.unscoped.get(key="deliver")
    change_url = reverse("design:definitions_taskdefinition_change", args=[task.pk])
    for title in ["Deliver it", "Deliver it now"]:
        assert client.post(change_url, task_form(title)).status_code == 302
    assert version() == 4
    first = Version.objects.get_for_object(task).order_by("pk").first()
    assert first is not None
    revert_url = reverse("design:definitions_taskdefinition_revision", args=[task.pk, first.pk])
    assert client.post(revert_url, task_form("Deliver")).status_code == 302
    assert version() == 5  # a revert is a change too: never back to 2
    assert TaskDefinition.unscoped.get(pk=task.pk).title == "Deliver"
    deleted = client.post(
        reverse("design:definitions_taskdefinition_delete", args=[task.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert version() == 6
    assert Version.objects.get_for_object(workflow).count() == 6


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


def test_deleting_a_published_workflow_is_refused_with_the_reason(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    make_release(tenant_a.designer, workflow)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_delete", args=[workflow.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "would require deleting the following protected related objects" in page.text
    assert "IT equipment request #1" in page.text and not page.context["perms_lacking"]
    assert client.post(url, {"post": "yes"}).status_code == 200
    assert WorkflowDefinition.unscoped.filter(pk=workflow.pk).exists()


# --- who works on a task ------------------------------------------------------------------------


def role_options(html: str, name: str) -> list[str]:
    """The labels of the options the page's <select name=...> offers, as a browser shows them."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, flags=re.DOTALL)
    assert select is not None, name
    return [
        label
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select[1])
        if value
    ]


def test_a_task_row_offers_only_the_companys_own_roles(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_company_role(tenant_a.company, "Finance")
    make_company_role(tenant_b.company, "Bravo finance")
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    page = client.get(reverse("design:definitions_workflowdefinition_change", args=[workflow.pk]))
    html = page.content.decode()
    for row in range(3):
        assert role_options(html, f"tasks-{row}-worker_role") == ["Alpha staff", "Finance"]
    assert "bravo" not in html.lower()
    task_page = client.get(reverse("design:definitions_taskdefinition_add")).content.decode()
    assert role_options(task_page, "worker_role") == ["Alpha staff", "Finance"]


def test_a_task_row_refuses_another_companys_role(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    response = client.post(url, change_form(workflow, **{"tasks-0-worker_role": str(tenant_b.role.pk)}))
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors[0]
    assert errors["worker_role"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not TaskDefinition.unscoped.filter(worker_role__isnull=False).exists()


def test_the_workflow_page_sets_who_works_on_a_task(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
    changes = {"tasks-0-assignment": "pool", "tasks-0-worker_role": str(tenant_a.role.pk)}
    response = client.post(url, change_form(workflow, **changes))
    assert response.status_code == 302
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
        approve = workflow.tasks.get(key="approve")
        draft = workflow_bundle(workflow)
    assert (approve.assignment, approve.worker_role) == ("pool", tenant_a.role)
    assert workflow.version == 2  # one recorded draft change
    assert draft["workflow"]["tasks"][0]["worker_role"] == "Alpha staff"
