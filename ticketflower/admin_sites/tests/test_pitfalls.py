"""One regression test per known hole of a company-scoped Django admin (docs/admin-tenancy-pitfalls.md).

Each acts as company A against company B's objects; the probe in tests/ walks every URL on
top of these.
"""

import json
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from reversion.models import Version

from conftest import Tenant
from tests.factories import load_bundle, make_ticket, make_workflow
from ticketflower.definitions.models import TaskDefinition, WorkflowDefinition, WorkflowRelease
from ticketflower.definitions.services import bundle_import
from ticketflower.runtime.models import TaskInstance
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def b_workflow(tenant_b: Tenant) -> WorkflowDefinition:
    """B's workflow, named "Bravo…" in its recorded versions too, so any leak of them shows."""
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["title"] = "Bravo oven repair"
    workflow = bundle_import(actor=tenant_b.designer, bundle=bundle).workflow
    assert workflow is not None
    return workflow


def test_1_a_foreign_key_post_with_another_companys_id_is_refused(
    client: Client, tenant_a: Tenant, b_workflow: WorkflowDefinition
) -> None:
    client.force_login(tenant_a.designer)
    response = client.post(
        reverse("design:definitions_taskdefinition_add"),
        {
            "workflow": b_workflow.pk,
            "key": "planted",
            "title": "Planted",
            "task_type": "FORM",
            "ext_ref": "[]",
        },
    )
    assert response.status_code == 200
    assert "workflow" in response.context["adminform"].form.errors
    assert not TaskDefinition.unscoped.filter(key="planted").exists()


def test_2_the_company_field_is_never_editable(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.designer)
    page = client.get(reverse("design:definitions_workflowdefinition_add"))
    assert "company" not in page.context["adminform"].form.fields


def test_3_autocomplete_offers_only_the_companys_rows(
    client: Client, tenant_a: Tenant, b_workflow: WorkflowDefinition
) -> None:
    make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    response = client.get(
        reverse("design:autocomplete"),
        {"app_label": "definitions", "model_name": "taskdefinition", "field_name": "workflow", "term": ""},
    )
    assert response.status_code == 200
    titles = [row["text"] for row in response.json()["results"]]
    assert titles == ["IT equipment request"]


def test_5_relation_filters_list_only_the_companys_rows(
    client: Client, tenant_a: Tenant, b_workflow: WorkflowDefinition
) -> None:
    make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    page = client.get(reverse("design:definitions_taskdefinition_changelist"))
    assert page.status_code == 200
    assert "Bravo oven repair" not in page.text
    assert "IT equipment request" in page.text


def test_6_history_revision_and_recover_of_another_company_are_not_found_and_change_nothing(
    client: Client, tenant_a: Tenant, b_workflow: WorkflowDefinition
) -> None:
    version = Version.objects.get_for_object(b_workflow).first()
    assert version is not None
    client.force_login(tenant_a.designer)
    base = "/design/definitions/workflowdefinition"
    assert client.get(f"{base}/{b_workflow.pk}/history/").status_code == 404
    assert client.get(f"{base}/{b_workflow.pk}/history/{version.pk}/").status_code == 404
    # The POST that reversion would have committed as a "revert":
    assert (
        client.post(f"{base}/{b_workflow.pk}/history/{version.pk}/", {"title": "Hijacked"}).status_code == 404
    )
    assert client.post(f"{base}/recover/{version.pk}/", {"title": "Hijacked"}).status_code == 404
    assert "bravo" not in client.get(f"{base}/recover/").content.decode().lower()
    assert WorkflowDefinition.unscoped.get(pk=b_workflow.pk).title == "Bravo oven repair"


def test_6_a_version_of_another_model_is_not_reverted_through_this_admin(
    client: Client, tenant_a: Tenant
) -> None:
    workflow = make_workflow(tenant_a.designer)
    with company_context(tenant_a.company):
        task = workflow.tasks.first()
    assert task is not None
    task_version = Version.objects.get_for_object(task).first()
    assert task_version is not None
    client.force_login(tenant_a.designer)
    url = f"/design/definitions/workflowdefinition/{workflow.pk}/history/{task_version.pk}/"
    assert client.get(url).status_code == 404


def test_9_view_on_site_looks_up_only_the_companys_objects(
    client: Client, tenant_a: Tenant, b_workflow: WorkflowDefinition
) -> None:
    client.force_login(tenant_a.designer)
    content_type = ContentType.objects.get_for_model(WorkflowDefinition)
    response = client.get(reverse("design:view_on_site", args=[content_type.pk, b_workflow.pk]))
    assert response.status_code == 404


def test_10_command_search_is_not_shared_between_sites(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.admin)
    design = client.get(reverse("design:search"), {"s": "work"}).content.decode()
    company = client.get(reverse("company:search"), {"s": "work"}).content.decode()
    assert "/design/" not in company
    assert design != company or design == ""


def test_11_detail_actions_with_another_companys_pk_are_not_found(
    client: Client, tenant_a: Tenant, b_workflow: WorkflowDefinition
) -> None:
    own = make_workflow(tenant_a.designer)
    client.force_login(tenant_a.designer)
    paths = [
        "validate/",
        "publish/",
        "withdraw/",
        "release-diff/",
        "download-bundle/",
        "download/",
        "compare/",
        "compare-versions/",
    ]
    for path in paths:  # the same URLs work for A's own workflow...
        assert client.get(f"/design/definitions/workflowdefinition/{own.pk}/{path}").status_code in (
            200,
            302,
        ), path
    base = f"/design/definitions/workflowdefinition/{b_workflow.pk}"
    for path in paths:  # ...and are not found for B's
        assert client.get(f"{base}/{path}").status_code == 404, path
    assert client.post(f"{base}/publish/").status_code == 404
    assert not WorkflowRelease.unscoped.filter(workflow=b_workflow).exists()


def test_12_a_site_is_closed_to_people_without_its_role(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.worker)
    for url in [
        reverse("design:definitions_workflowdefinition_changelist"),
        reverse("tickets:runtime_activeticket_changelist"),
        reverse("company:accounts_user_changelist"),
    ]:
        assert client.get(url).status_code == 404


def test_a_worker_sees_only_their_own_tasks(client: Client, tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    mine = make_ticket(tenant_a.member, workflow, worker=tenant_a.worker)
    theirs = make_ticket(tenant_a.member, workflow, worker=tenant_a.admin)
    with company_context(tenant_a.company):
        my_task = TaskInstance.objects.get(workflow_instance=mine.workflow_instance)
        their_task = TaskInstance.objects.get(workflow_instance=theirs.workflow_instance)
    client.force_login(tenant_a.worker)
    listing = client.get(reverse("worker:runtime_mytask_changelist"))
    with company_context(tenant_a.company):
        assert [task.pk for task in listing.context["cl"].result_list] == [my_task.pk]
    assert client.get(reverse("worker:runtime_mytask_change", args=[my_task.pk])).status_code == 200
    assert client.get(reverse("worker:runtime_mytask_change", args=[their_task.pk])).status_code == 404


def test_upload_preview_lists_problems_by_place_and_writes_nothing(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.designer)
    bundle: dict[str, Any] = {
        "workflow": {
            "title": "Broken",
            "tasks": [{"key": "a", "title": "A", "type": "FORM"}],
            "transitions": [],
        }
    }
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("broken.json", json.dumps(bundle).encode(), content_type="application/json")
    page = client.post(reverse("design:definitions_workflowdefinition_upload"), {"file": upload})
    assert page.status_code == 200
    problems = page.context["result"].problems
    assert [p.path for p in problems] == ["workflow.transitions"]
    assert not WorkflowDefinition.unscoped.exists()
