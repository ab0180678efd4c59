import pytest
from django.core.exceptions import PermissionDenied
from reversion.models import Version

from conftest import Tenant
from tests.factories import load_bundle, make_ticket, make_workflow
from ticketflower.definitions import services
from ticketflower.definitions.bundles import bundle_dump, bundle_parse, workflow_bundle
from ticketflower.definitions.models import DefinitionStatus, TaskDefinition, WorkflowDefinition
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def test_a_bundle_round_trips_into_another_company_unchanged(tenant_a: Tenant, tenant_b: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer, "customer-complaint.yaml")
    with company_context(tenant_a.company):
        exported = workflow_bundle(workflow)
    text = bundle_dump(exported, as_yaml=True)
    result = services.bundle_import(actor=tenant_b.designer, bundle=bundle_parse(text, filename="x.yaml"))
    assert result.ok and result.workflow is not None
    assert result.workflow.company_id == tenant_b.company.pk
    with company_context(tenant_b.company):
        assert workflow_bundle(result.workflow) == exported


def test_an_upload_takes_no_company_or_ids_from_the_file(tenant_a: Tenant, tenant_b: Tenant) -> None:
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["company"] = tenant_b.company.pk
    bundle["workflow"]["id"] = 1
    bundle["workflow"]["company"] = tenant_b.company.pk
    result = services.bundle_import(actor=tenant_a.designer, bundle=bundle)
    assert result.workflow is not None and result.workflow.company_id == tenant_a.company.pk
    assert not WorkflowDefinition.unscoped.filter(company=tenant_b.company).exists()


def test_a_dry_run_previews_and_writes_nothing(tenant_a: Tenant) -> None:
    result = services.bundle_import(
        actor=tenant_a.designer, bundle=load_bundle("purchase-order.yaml"), dry_run=True
    )
    # The purchase order needs a "Staff" role that Alpha does not have: reported, nothing written.
    assert [p.path for p in result.problems] == ["ticket_types[0].allowed_roles[0]"]
    bundle = load_bundle("purchase-order.yaml")
    bundle["ticket_types"][0]["allowed_roles"] = ["Alpha staff"]
    preview = services.bundle_import(actor=tenant_a.designer, bundle=bundle, dry_run=True)
    assert preview.ok and preview.workflow is None
    assert "workflow “Purchase order”" in preview.created and "task “place_order”" in preview.created
    assert not WorkflowDefinition.unscoped.exists()


def test_a_bundle_with_errors_writes_nothing_and_names_each_place(tenant_a: Tenant) -> None:
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["transitions"][1]["condition"] = "data.approved =="
    bundle["workflow"]["tasks"][1]["type"] = "SYNC_ACTION"
    result = services.bundle_import(actor=tenant_a.designer, bundle=bundle)
    paths = {p.path for p in result.problems}
    assert {"workflow.transitions[1].condition", "workflow.tasks[1].action_url"} <= paths
    assert not WorkflowDefinition.unscoped.exists()


def test_uploading_into_a_workflow_updates_it_and_bumps_its_version(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["tasks"].append({"key": "deliver", "title": "Deliver it", "type": "FORM"})
    bundle["workflow"]["transitions"].append({"from": "order", "to": "deliver"})
    bundle["workflow"]["tasks"] = [t for t in bundle["workflow"]["tasks"] if t["key"] != "decline"]
    bundle["workflow"]["transitions"] = [t for t in bundle["workflow"]["transitions"] if t["to"] != "decline"]
    result = services.bundle_import(actor=tenant_a.designer, bundle=bundle, into=workflow)
    assert result.ok, result.problems
    assert "task “deliver”" in result.created and "task “decline”" in result.deleted
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
        assert workflow.version == 2
        assert sorted(workflow.tasks.values_list("key", flat=True)) == ["approve", "deliver", "order"]


def test_an_upload_cannot_remove_a_task_that_tickets_use(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    make_ticket(tenant_a.member, workflow)  # waits at "approve"
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["tasks"] = [t for t in bundle["workflow"]["tasks"] if t["key"] != "approve"]
    bundle["workflow"]["transitions"] = [{"from": None, "to": "order"}, {"from": "order", "to": "decline"}]
    result = services.bundle_import(actor=tenant_a.designer, bundle=bundle, into=workflow)
    assert not result.ok and "tickets already use" in result.problems[0].message
    with company_context(tenant_a.company):
        assert workflow.tasks.filter(key="approve").exists()


def test_only_designers_import(tenant_a: Tenant) -> None:
    with pytest.raises(PermissionDenied):
        services.bundle_import(actor=tenant_a.worker, bundle=load_bundle("it-equipment-request.yaml"))


def test_activation_needs_a_valid_workflow_and_invalid_edits_fall_back_to_draft(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    assert services.workflow_activate(actor=tenant_a.designer, workflow=workflow) == []
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
        assert workflow.status == DefinitionStatus.ACTIVE
        task = workflow.tasks.get(key="order")
        task.task_type = "SYNC_ACTION"  # no URL, no timeout
        task.save()
    problems = services.definition_changed(actor=tenant_a.designer, definition=task, created=False)
    assert {p.path for p in problems} >= {"workflow.tasks[1].action_url", "workflow.tasks[1].timeout_seconds"}
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
        assert workflow.status == DefinitionStatus.DRAFT
        assert workflow.version == 2
    assert services.workflow_activate(actor=tenant_a.designer, workflow=workflow) == problems


def test_a_ticket_type_is_active_only_with_an_active_workflow(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    with company_context(tenant_a.company):
        ticket_type = workflow.ticket_types.get()
    problems = services.ticket_type_activate(actor=tenant_a.designer, ticket_type=ticket_type)
    assert [p.message for p in problems] == ["Activate the workflow first."]
    services.workflow_activate(actor=tenant_a.designer, workflow=workflow)
    assert services.ticket_type_activate(actor=tenant_a.designer, ticket_type=ticket_type) == []


def test_every_import_is_a_revision_of_the_company(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    services.bundle_import(
        actor=tenant_a.designer, bundle=load_bundle("it-equipment-request.yaml"), into=workflow
    )
    versions = Version.objects.get_for_object(workflow)
    assert versions.count() == 2
    assert {v.revision.company_revision.company_id for v in versions} == {tenant_a.company.pk}
    assert {v.revision.user_id for v in versions} == {tenant_a.designer.pk}


def test_a_bundle_export_is_plain_data_without_ids(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    with company_context(tenant_a.company):
        text = bundle_dump(workflow_bundle(workflow))
    assert '"id"' not in text and '"company"' not in text and '"pk"' not in text
    with company_context(tenant_a.company):
        assert TaskDefinition.objects.filter(workflow=workflow).count() == 3


def test_a_running_ticket_keeps_the_definition_it_started_with(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    ticket = make_ticket(tenant_a.member, workflow)
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["transitions"][1]["condition"] = "data.approved && data.estimated_cost < 2000.0"
    services.bundle_import(actor=tenant_a.designer, bundle=bundle, into=workflow)
    with company_context(tenant_a.company):
        run = type(ticket.workflow_instance).objects.get(pk=ticket.workflow_instance_id)  # type: ignore[union-attr]
        workflow.refresh_from_db()
    assert run.workflow_version == 1 and workflow.version == 2
    assert run.snapshot["workflow"]["transitions"][1]["condition"] == "data.approved == true"


@pytest.mark.parametrize(
    "text",
    [
        "workflow:\n  title: x\n  description: 2026-01-31\n",  # a YAML date
        "workflow:\n  title: !!binary aGVsbG8=\n",
        "[" * 5000 + "]" * 5000,
        "workflow: {title: x, tasks: [1, 2]}",
    ],
)
def test_odd_uploads_are_problems_not_crashes(tenant_a: Tenant, text: str) -> None:
    from ticketflower.definitions.bundles import BundleSyntaxError

    try:
        bundle = bundle_parse(text, filename="odd.yaml")
    except BundleSyntaxError:
        return
    result = services.bundle_import(actor=tenant_a.designer, bundle=bundle)
    assert result.problems and result.workflow is None
    assert not WorkflowDefinition.unscoped.exists()
