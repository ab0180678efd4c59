import copy
import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import RestrictedError
from reversion.models import Version

from conftest import Tenant
from tests.factories import load_bundle, make_company_role, make_release, make_ticket, make_workflow
from ticketflower.definitions import services
from ticketflower.definitions.bundles import bundle_dump, bundle_parse, bundle_sha256, workflow_bundle
from ticketflower.definitions.models import (
    ReleaseImmutable,
    WorkflowDefinition,
    WorkflowRelease,
    _cached_bundle,
)
from ticketflower.definitions.selectors import current_release, draft_state, submittable_ticket_types
from ticketflower.definitions.versioning import version_bundle
from ticketflower.runtime.models import WorkflowInstance
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole

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
    # The purchase order needs "Finance" and "Staff" roles that Alpha does not have: reported,
    # nothing written.
    assert [p.path for p in result.problems] == [
        "workflow.tasks[0].worker_role",
        "ticket_types[0].allowed_roles[0]",
    ]
    bundle = load_bundle("purchase-order.yaml", role="Alpha staff")
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


def test_uploading_into_a_workflow_updates_its_draft_and_numbers_the_change(tenant_a: Tenant) -> None:
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


def test_a_draft_task_that_running_tickets_used_can_still_be_removed(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    ticket = make_ticket(tenant_a.member, workflow)  # published, and waits at "approve"
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["tasks"] = [t for t in bundle["workflow"]["tasks"] if t["key"] != "approve"]
    bundle["workflow"]["transitions"] = [{"from": None, "to": "order"}, {"from": "order", "to": "decline"}]
    result = services.bundle_import(actor=tenant_a.designer, bundle=bundle, into=workflow)
    assert result.ok, result.problems
    with company_context(tenant_a.company):
        assert not workflow.tasks.filter(key="approve").exists()
        run = WorkflowInstance.objects.get(pk=ticket.workflow_instance_id)
        assert run.current_task_key == "approve" and run.current_task_title == "Manager approval"


def test_only_designers_import(tenant_a: Tenant) -> None:
    with pytest.raises(PermissionDenied):
        services.bundle_import(actor=tenant_a.worker, bundle=load_bundle("it-equipment-request.yaml"))


def test_every_draft_change_is_one_revision_numbered_by_the_history(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    for _ in range(2):
        services.bundle_import(
            actor=tenant_a.designer, bundle=load_bundle("it-equipment-request.yaml"), into=workflow
        )
    versions = Version.objects.get_for_object(workflow)
    assert versions.count() == 3
    assert {v.revision.company_revision.company_id for v in versions} == {tenant_a.company.pk}
    assert {v.revision.user_id for v in versions} == {tenant_a.designer.pk}
    with company_context(tenant_a.company):
        workflow.refresh_from_db()
    assert workflow.version == 3
    # Each revision recorded the whole draft, ticket types included.
    newest = versions.order_by("-pk").first()
    assert newest is not None
    recorded = {v.content_type.model for v in newest.revision.version_set.all()}
    assert recorded >= {"workflowdefinition", "taskdefinition", "workflowtransition", "ticketdefinition"}


def test_publishing_freezes_the_draft_as_release_1(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    result = services.workflow_publish(actor=tenant_a.designer, workflow=workflow, note="First go")
    assert result.ok and result.release is not None
    release = result.release
    with company_context(tenant_a.company):
        draft = workflow_bundle(workflow)
        latest = Version.objects.get_for_object(workflow).order_by("-pk").first()
        published = [t.title for t in release.ticket_types.all()]
    assert (release.number, release.draft_version, release.note) == (1, 1, "First go")
    assert release.bundle == draft and release.sha256 == bundle_sha256(draft)
    assert release.published_by == tenant_a.designer
    assert latest is not None and release.draft_revision_id == latest.revision_id
    assert published == ["Request IT equipment"]
    assert "Published release #1" in result.message


def test_a_draft_with_problems_is_not_published(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    with company_context(tenant_a.company):
        task = workflow.tasks.get(key="order")
        task.task_type = "SYNC_ACTION"  # no URL, no timeout
        task.save()
    result = services.workflow_publish(actor=tenant_a.designer, workflow=workflow)
    assert not result.ok
    paths = {p.path for p in result.problems}
    assert paths >= {"workflow.tasks[1].action_url", "workflow.tasks[1].timeout_seconds"}
    assert not WorkflowRelease.unscoped.exists()


def test_editing_the_draft_never_touches_what_is_published(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    release = make_release(tenant_a.designer, workflow)
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["transitions"][1]["condition"] = "data.approved"
    bundle["ticket_types"][0]["title"] = "Renamed in the draft"
    assert services.bundle_import(actor=tenant_a.designer, bundle=bundle, into=workflow).ok
    with company_context(tenant_a.company):
        task = workflow.tasks.get(key="order")
        task.task_type = "SYNC_ACTION"  # a broken draft
        task.save()
        assert current_release(workflow) == release
        frozen = WorkflowRelease.objects.get(pk=release.pk).bundle
        assert frozen["workflow"]["transitions"][1]["condition"] == "data.approved == true"
        assert [t.title for t in submittable_ticket_types(tenant_a.member)] == ["Request IT equipment"]
        state = draft_state(workflow)
    assert state.differs and state.release == release and state.problems


def test_publishing_an_unchanged_draft_makes_no_new_release(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    first = make_release(tenant_a.designer, workflow)
    again = services.workflow_publish(actor=tenant_a.designer, workflow=workflow)
    assert again.release == first and "Nothing to publish" in again.message
    assert WorkflowRelease.unscoped.count() == 1


def test_a_rollback_publishes_an_earlier_bundle_as_the_next_number(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    first = make_release(tenant_a.designer, workflow)
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["description"] = "Second thoughts"
    services.bundle_import(actor=tenant_a.designer, bundle=bundle, into=workflow)
    second = make_release(tenant_a.designer, workflow)
    result = services.release_rollback(actor=tenant_a.designer, release=first)
    assert result.ok and result.release is not None
    third = result.release
    assert (third.number, third.rolled_back_to, third.sha256) == (3, first, first.sha256)
    assert third.draft_version == first.draft_version and second.number == 2
    with company_context(tenant_a.company):
        assert current_release(workflow) == third
        workflow.refresh_from_db()
        assert workflow.description == "Second thoughts"  # the draft stays as it is
        assert draft_state(workflow).differs


def test_withdrawing_stops_new_tickets_and_publishing_again_offers_them(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    make_release(tenant_a.designer, workflow)
    withdrawn = services.workflow_withdraw(actor=tenant_a.designer, workflow=workflow)
    assert withdrawn.ok and withdrawn.release is not None and withdrawn.release.withdrawn
    with company_context(tenant_a.company):
        assert list(submittable_ticket_types(tenant_a.member)) == []
    assert not services.workflow_withdraw(actor=tenant_a.designer, workflow=workflow).ok
    republished = services.workflow_publish(actor=tenant_a.designer, workflow=workflow)
    assert republished.ok and republished.release is not None and republished.release.number == 3
    with company_context(tenant_a.company):
        assert [t.title for t in submittable_ticket_types(tenant_a.member)] == ["Request IT equipment"]


def test_a_release_never_changes_and_is_never_deleted(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    release = make_release(tenant_a.designer, workflow)
    with company_context(tenant_a.company):
        release.note = "edited"
        with pytest.raises(ReleaseImmutable):
            release.save()
        with pytest.raises(ReleaseImmutable):
            release.delete()
        with pytest.raises(ReleaseImmutable):
            WorkflowRelease.objects.filter(pk=release.pk).update(note="edited")
        with pytest.raises(ReleaseImmutable):
            WorkflowRelease.objects.filter(pk=release.pk).delete()
        with pytest.raises(ReleaseImmutable):
            WorkflowRelease.unscoped.filter(pk=release.pk).update(note="edited")
        with pytest.raises(ReleaseImmutable):
            release.ticket_types.update(title="edited")
    # Below the ORM the database refuses too.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE definitions_workflowrelease SET note = 'edited' WHERE id = %s", [release.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE definitions_releasetickettype SET title = 'edited'")
    assert WorkflowRelease.unscoped.get(pk=release.pk).note == ""


def test_a_releases_bundle_is_read_once_per_process_and_only_by_its_company(
    tenant_a: Tenant, tenant_b: Tenant, django_assert_num_queries: Any
) -> None:
    release = make_release(tenant_a.designer, make_workflow(tenant_a.designer))
    _cached_bundle.cache_clear()
    with company_context(tenant_a.company):
        one, two = (WorkflowRelease.objects.defer("bundle").get(pk=release.pk) for _ in range(2))
        with django_assert_num_queries(1):
            assert one.frozen_bundle() == two.frozen_bundle() == release.bundle
    with company_context(tenant_b.company), pytest.raises(WorkflowRelease.DoesNotExist):
        one.frozen_bundle()  # cached for company A, and B's own lookup finds no such release


def test_a_published_workflow_cannot_be_deleted_but_its_draft_parts_can(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    make_release(tenant_a.designer, workflow)
    with company_context(tenant_a.company), pytest.raises(RestrictedError):
        workflow.delete()
    with company_context(tenant_a.company):
        workflow.ticket_types.get().delete()
        workflow.tasks.get(key="decline").delete()
        assert WorkflowRelease.objects.get().bundle["ticket_types"][0]["title"] == "Request IT equipment"


def test_an_upload_refuses_titles_another_workflow_uses(tenant_a: Tenant) -> None:
    make_workflow(tenant_a.designer)
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["title"] = "it EQUIPMENT request"
    result = services.bundle_import(actor=tenant_a.designer, bundle=bundle)
    assert {p.path for p in result.problems} == {"workflow.title", "ticket_types[0].title"}
    assert WorkflowDefinition.unscoped.count() == 1


def test_a_bundle_export_is_plain_data_without_ids(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    with company_context(tenant_a.company):
        text = bundle_dump(workflow_bundle(workflow))
    assert '"id"' not in text and '"company"' not in text and '"pk"' not in text


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


# --- who works on a task: assignment and worker role -----------------------------------------


def staffed_bundle(role: str = "Alpha staff") -> dict[str, Any]:
    """The IT request with its approval in a pool of `role` and its ordering automatic."""
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["tasks"][0].update(assignment="pool", worker_role=role)
    return bundle


def who_works(bundle: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(t["key"], t["assignment"], t["worker_role"]) for t in bundle["workflow"]["tasks"]]


def test_a_task_goes_to_its_worker_role_matched_by_name_whatever_its_case(tenant_a: Tenant) -> None:
    result = services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle("ALPHA STAFF"))
    assert result.ok and result.workflow is not None, result.problems
    with company_context(tenant_a.company):
        approve = result.workflow.tasks.get(key="approve")
        order = result.workflow.tasks.get(key="order")
    assert (approve.assignment, approve.worker_role) == ("pool", tenant_a.role)
    assert (order.assignment, order.worker_role) == ("auto", None)


def test_the_export_names_every_tasks_assignment_and_worker_role(tenant_a: Tenant, tenant_b: Tenant) -> None:
    result = services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle())
    assert result.workflow is not None
    with company_context(tenant_a.company):
        exported = workflow_bundle(result.workflow)
    assert who_works(exported) == [
        ("approve", "pool", "Alpha staff"),
        ("order", "auto", None),
        ("decline", "auto", None),
    ]
    # By name, so it moves to a company with a role of that name.
    make_company_role(tenant_b.company, "alpha staff")
    text = bundle_dump(exported, as_yaml=True)
    moved = services.bundle_import(actor=tenant_b.designer, bundle=bundle_parse(text, filename="x.yaml"))
    assert moved.ok and moved.workflow is not None, moved.problems
    with company_context(tenant_b.company):
        assert who_works(workflow_bundle(moved.workflow))[0] == ("approve", "pool", "alpha staff")


def test_an_unknown_worker_role_is_a_problem_at_its_task_and_nothing_is_written(tenant_a: Tenant) -> None:
    result = services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle("Managers"))
    assert [str(p) for p in result.problems] == [
        "workflow.tasks[0].worker_role: Unknown company role 'Managers': create it in the company site first."
    ]
    assert not WorkflowDefinition.unscoped.exists()


def test_a_reimport_without_the_keys_sets_the_defaults_again(tenant_a: Tenant) -> None:
    result = services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle())
    assert result.workflow is not None
    again = services.bundle_import(
        actor=tenant_a.designer, bundle=load_bundle("it-equipment-request.yaml"), into=result.workflow
    )
    assert again.ok and "task “approve”" in again.updated
    with company_context(tenant_a.company):
        approve = result.workflow.tasks.get(key="approve")
    assert (approve.assignment, approve.worker_role) == ("auto", None)


def test_every_task_of_a_release_names_its_assignment_and_worker_role(tenant_a: Tenant) -> None:
    result = services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle())
    assert result.workflow is not None
    release = make_release(tenant_a.designer, result.workflow)
    assert who_works(release.bundle) == [
        ("approve", "pool", "Alpha staff"),
        ("order", "auto", None),
        ("decline", "auto", None),
    ]


def test_a_rollback_to_a_release_from_before_assignments_spells_out_the_defaults(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    old_bundle = load_bundle("it-equipment-request.yaml")  # written before tasks had the two keys
    with company_context(tenant_a.company):
        old = WorkflowRelease.objects.create(
            workflow=workflow,
            number=1,
            bundle=old_bundle,
            sha256=bundle_sha256(old_bundle),
            draft_version=1,
            published_by=tenant_a.designer,
        )
    result = services.release_rollback(actor=tenant_a.designer, release=old)
    assert result.release is not None, result.problems
    assert who_works(result.release.bundle) == [
        ("approve", "auto", None),
        ("order", "auto", None),
        ("decline", "auto", None),
    ]
    assert result.release.sha256 == bundle_sha256(result.release.bundle)


def test_a_rollback_to_a_worker_role_the_company_no_longer_has_is_refused(tenant_a: Tenant) -> None:
    make_company_role(tenant_a.company, "Finance")
    result = services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle("Finance"))
    assert result.workflow is not None
    first = make_release(tenant_a.designer, result.workflow)
    with company_context(tenant_a.company):
        CompanyRole.objects.filter(name="Finance").delete()
    refused = services.release_rollback(actor=tenant_a.designer, release=first)
    assert refused.release is None
    assert [p.path for p in refused.problems] == ["workflow.tasks[0].worker_role"]


def test_deleting_a_worker_role_empties_it_in_the_draft_and_the_release_keeps_its_name(
    tenant_a: Tenant,
) -> None:
    finance = make_company_role(tenant_a.company, "Finance")
    result = services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle("Finance"))
    assert result.workflow is not None
    release = make_release(tenant_a.designer, result.workflow)
    with company_context(tenant_a.company):
        finance.delete()
        approve = result.workflow.tasks.get(key="approve")
        release.refresh_from_db()
    assert approve.worker_role is None and approve.assignment == "pool"
    assert who_works(release.bundle)[0] == ("approve", "pool", "Finance")


def test_the_draft_history_records_who_works_on_a_task(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    services.bundle_import(actor=tenant_a.designer, bundle=staffed_bundle(), into=workflow)
    first, second = Version.objects.get_for_object(workflow).order_by("pk")
    with company_context(tenant_a.company):
        assert who_works(version_bundle(first))[0] == ("approve", "auto", None)
        assert who_works(version_bundle(second))[0] == ("approve", "pool", "Alpha staff")


def test_a_revision_recorded_before_tasks_had_assignments_reads_as_the_defaults(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    version = Version.objects.get_for_object(workflow).get()
    for task_version in version.revision.version_set.filter(content_type__model="taskdefinition"):
        data = json.loads(task_version.serialized_data)
        del data[0]["fields"]["assignment"], data[0]["fields"]["worker_role"]
        Version.objects.filter(pk=task_version.pk).update(serialized_data=json.dumps(data))
    with company_context(tenant_a.company):
        recorded = version_bundle(version)
        assert recorded == workflow_bundle(workflow)


def test_a_release_from_before_code_tasks_still_matches_its_unchanged_draft(tenant_a: Tenant) -> None:
    workflow = make_workflow(tenant_a.designer)
    with company_context(tenant_a.company):
        draft = workflow_bundle(WorkflowDefinition.objects.get(pk=workflow.pk))
    assert all(task["code"] == "" for task in draft["workflow"]["tasks"])
    published_then = copy.deepcopy(draft)
    for task in published_then["workflow"]["tasks"]:
        del task["code"]  # as a release published before tasks had code holds it
    assert bundle_sha256(published_then) == bundle_sha256(draft)
    draft["workflow"]["tasks"][0]["code"] = "def run(input, context):\n    return {}\n"
    assert bundle_sha256(published_then) != bundle_sha256(draft)
