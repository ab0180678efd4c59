"""Submitting tickets and moving runs through people's tasks, on the real database."""

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from conftest import Tenant
from tests.factories import make_user
from ticketflower.accounts.models import User
from ticketflower.definitions.services import bundle_import, workflow_publish
from ticketflower.runtime import services
from ticketflower.runtime.models import (
    QUEUED_TASK_STATUSES,
    EventKind,
    TaskInstance,
    TaskStatus,
    TicketEvent,
    TicketInstance,
    WorkerLoad,
    WorkflowStatus,
)
from ticketflower.runtime.services import DataInvalid, WrongState
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole, CompanyRoleMembership, SystemRole

from .workflows import current, publish, review_bundle, tasks_of

pytestmark = pytest.mark.django_db


def submit(tenant: Tenant, **data: object) -> TicketInstance:
    ticket_type = publish(tenant.designer, review_bundle())
    return services.ticket_submit(
        ticket_type=ticket_type, submitted_by=tenant.member, data={"item": "Desk", **data}
    )


def events(ticket: TicketInstance) -> list[str]:
    with company_context(ticket.company):
        return list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))


def run_status(ticket: TicketInstance) -> str:
    with company_context(ticket.company):
        ticket.workflow_instance.refresh_from_db()  # type: ignore[union-attr]
        return ticket.workflow_instance.status  # type: ignore[union-attr]


# --- submitting ---------------------------------------------------------------------------------


def test_a_submission_writes_ticket_run_first_task_and_the_assignment(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a, count=2)
    run = ticket.workflow_instance
    assert run is not None and run.status == WorkflowStatus.IN_PROGRESS
    assert run.data == {"item": "Desk", "count": 2, "urgent": False}  # the preset filled in
    (task,) = tasks_of(ticket)
    assert (task.task_key, task.status, task.input_data) == ("review", TaskStatus.OPEN, {"item": "Desk"})
    assert task.assigned_to in (tenant_a.admin, tenant_a.worker)  # both are task workers
    assert events(ticket) == [EventKind.SUBMITTED, EventKind.TASK_CREATED, EventKind.ASSIGNED]
    assert ProcrastinateJob.objects.filter(task_name="runtime.notify", args__what="assigned").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"count": 1}, "item"),  # required
        ({"item": "Desk", "count": "two"}, "count"),  # wrong type
        ({"item": "Desk", "secret": 1}, "secret"),  # unknown key
        ({"item": "Desk", "urgent": True}, "urgent"),  # a preset is not asked
    ],
)
def test_invalid_data_is_refused_by_field_and_nothing_is_written(
    tenant_a: Tenant, data: dict[str, object], field: str
) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    with pytest.raises(DataInvalid) as refused:
        services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data=data)
    assert field in refused.value.errors
    with company_context(tenant_a.company):
        assert not TicketInstance.objects.exists()
        assert not ProcrastinateJob.objects.exists()


def test_only_holders_of_the_types_roles_may_submit(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["ticket_types"][0]["allowed_roles"] = [tenant_a.role.name]
    ticket_type = publish(tenant_a.designer, bundle)
    outsider = make_user(tenant_a.company)
    with pytest.raises(PermissionDenied):
        services.ticket_submit(ticket_type=ticket_type, submitted_by=outsider, data={"item": "Desk"})
    services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "Desk"})


def test_another_companys_ticket_type_cannot_be_submitted(tenant_a: Tenant, tenant_b: Tenant) -> None:
    theirs = publish(tenant_b.designer, review_bundle())
    with pytest.raises(PermissionDenied):
        services.ticket_submit(ticket_type=theirs, submitted_by=tenant_a.member, data={"item": "Desk"})


def test_a_superseded_ticket_type_submits_to_the_latest_release(tenant_a: Tenant) -> None:
    old = publish(tenant_a.designer, review_bundle())
    workflow = old.release.workflow
    changed = review_bundle(description="Second version")
    bundle_import(actor=tenant_a.designer, bundle=changed, into=workflow)
    newer = workflow_publish(actor=tenant_a.designer, workflow=workflow).release
    ticket = services.ticket_submit(ticket_type=old, submitted_by=tenant_a.member, data={"item": "Desk"})
    assert newer is not None and ticket.workflow_instance.release_id == newer.pk  # type: ignore[union-attr]


def test_the_jobs_of_a_submission_vanish_with_its_transaction(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "Desk"})
        assert ProcrastinateJob.objects.exists()
        raise RuntimeError("the request failed after submitting")
    assert not ProcrastinateJob.objects.exists()


# --- people's tasks -----------------------------------------------------------------------------


def worker_of(ticket: TicketInstance) -> User:
    task = current(ticket)
    assert task.assigned_to is not None
    return task.assigned_to


def test_completing_a_task_merges_its_output_and_takes_the_matching_transition(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    review = current(ticket)
    services.task_start(worker=worker_of(ticket), task=review)
    services.task_complete(worker=worker_of(ticket), task=review, output={"approved": True})
    review, order = tasks_of(ticket)
    assert review.status == TaskStatus.COMPLETED and review.output_data == {"approved": True}
    assert order.task_key == "order" and order.status == TaskStatus.OPEN
    with company_context(tenant_a.company):
        ticket.workflow_instance.refresh_from_db()  # type: ignore[union-attr]
    assert ticket.workflow_instance.data["approved"] is True  # type: ignore[union-attr]


def test_an_invalid_output_changes_nothing(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    review = current(ticket)
    with pytest.raises(DataInvalid) as refused:
        services.task_complete(worker=worker_of(ticket), task=review, output={"approved": "yes", "item": "x"})
    assert set(refused.value.errors) == {"approved", "item"}
    assert current(ticket).status == TaskStatus.OPEN
    assert ticket.workflow_instance.data == {"item": "Desk", "urgent": False}  # type: ignore[union-attr]


def test_the_last_task_completes_the_run(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    services.task_complete(worker=worker_of(ticket), task=current(ticket), output={"approved": False})
    decline = current(ticket)
    assert decline.task_key == "decline"
    services.task_complete(worker=worker_of(ticket), task=decline, output={})
    assert run_status(ticket) == WorkflowStatus.COMPLETED
    assert events(ticket)[-1] == EventKind.COMPLETED


def test_no_matching_transition_stops_the_run_in_error(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["transitions"][2]["condition"] = "data.approved == false && data.urgent"
    ticket_type = publish(tenant_a.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    services.task_complete(worker=worker_of(ticket), task=current(ticket), output={"approved": False})
    assert run_status(ticket) == WorkflowStatus.ERROR
    assert ticket.workflow_instance.error == "No transition matched after Review."  # type: ignore[union-attr]


def test_a_run_that_loops_without_end_stops_in_error(tenant_a: Tenant, settings: Any) -> None:
    settings.RUN_MAX_TASKS = 3
    bundle = review_bundle()
    bundle["workflow"]["transitions"][2]["to"] = "review"  # not approved: review again
    bundle["workflow"]["transitions"].append({"from": "review", "to": "decline", "priority": 2})
    ticket_type = publish(tenant_a.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    for _ in range(3):
        services.task_complete(worker=worker_of(ticket), task=current(ticket), output={"approved": False})
    assert len(tasks_of(ticket)) == 3
    assert run_status(ticket) == WorkflowStatus.ERROR
    assert ticket.workflow_instance.error == (  # type: ignore[union-attr]
        "The run went through 3 tasks; it looks like an endless loop."
    )


def test_the_events_of_a_rolled_back_savepoint_are_not_written(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    with company_context(tenant_a.company), services._writes():
        services._event(ticket, EventKind.HELD, services.ENGINE, message="kept")
        with pytest.raises(RuntimeError), services._writes():
            services._event(ticket, EventKind.RESUMED, services.ENGINE, message="rolled back")
            raise RuntimeError
    assert events(ticket)[-1] == EventKind.HELD
    assert EventKind.RESUMED not in events(ticket)


def test_a_second_completion_changes_nothing_and_says_why(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    review, worker = current(ticket), worker_of(ticket)
    services.task_complete(worker=worker, task=review, output={"approved": True})
    with pytest.raises(WrongState, match="already completed"):
        services.task_complete(worker=worker, task=review, output={"approved": False})
    assert [t.task_key for t in tasks_of(ticket)] == ["review", "order"]


def test_only_the_assignee_works_on_a_task(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    other = tenant_a.worker if worker_of(ticket) == tenant_a.admin else tenant_a.admin
    with pytest.raises(WrongState, match="not assigned to you"):
        services.task_complete(worker=other, task=current(ticket), output={"approved": True})


def test_saving_keeps_a_draft_and_starts_the_task(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    services.task_save(worker=worker_of(ticket), task=current(ticket), output={"approved": True})
    task = current(ticket)
    assert task.status == TaskStatus.IN_PROGRESS and task.output_data == {"approved": True}
    assert "approved" not in ticket.workflow_instance.data  # type: ignore[union-attr]


# --- assignment ---------------------------------------------------------------------------------


def test_the_worker_with_the_shortest_queue_gets_the_task(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    assignees = [
        current(
            services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
        ).assigned_to
        for _ in range(4)
    ]
    # Two workers (the admin holds every role): they take turns.
    assert assignees.count(tenant_a.admin) == 2 and assignees.count(tenant_a.worker) == 2
    assert assignees[0] != assignees[1] and assignees[2] != assignees[3]


def test_ties_go_to_the_worker_assigned_least_recently(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    first = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    first_worker = worker_of(first)
    services.task_complete(worker=first_worker, task=current(first), output={"approved": False})
    # `first_worker` now holds "decline" (1 open); finish it so both queues are empty again.
    services.task_complete(worker=worker_of(first), task=current(first), output={})
    second = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "y"})
    assert worker_of(second) != worker_of(first)


def test_unavailable_workers_get_nothing_and_the_task_waits(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company):
        User.objects.filter(pk__in=[tenant_a.admin.pk, tenant_a.worker.pk]).update(is_available=False)
    ticket = submit(tenant_a)
    task = current(ticket)
    assert (task.status, task.assigned_to) == (TaskStatus.PENDING, None)
    assert events(ticket)[-1] == EventKind.WAITING
    with company_context(tenant_a.company):
        User.objects.filter(pk=tenant_a.worker.pk).update(is_available=True)
        assert services.waiting_tasks_assign() == 1
    assert current(ticket).assigned_to == tenant_a.worker


def test_a_pool_task_waits_until_one_eligible_worker_claims_it(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["assignment"] = "pool"
    ticket_type = publish(tenant_a.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    task = current(ticket)
    assert (task.status, task.assigned_to) == (TaskStatus.PENDING, None)
    services.task_claim(worker=tenant_a.worker, task=task)
    with pytest.raises(WrongState, match="already taken"):
        services.task_claim(worker=tenant_a.admin, task=task)
    assert current(ticket).assigned_to == tenant_a.worker
    with pytest.raises(PermissionDenied):
        services.task_claim(worker=tenant_a.member, task=task)  # not a task worker


def test_a_released_task_goes_back_to_the_pool(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    worker = worker_of(ticket)
    services.task_release(worker=worker, task=current(ticket))
    task = current(ticket)
    assert (task.status, task.assigned_to, task.assignment) == (TaskStatus.PENDING, None, "pool")
    services.task_claim(worker=tenant_a.worker, task=task)
    assert current(ticket).assigned_to == tenant_a.worker


def queues(tenant: Tenant) -> tuple[dict[int, int], dict[int, int]]:
    """Each worker's queue as the database keeps it (WorkerLoad), and as counted from the tasks."""
    with company_context(tenant.company):
        kept = dict(WorkerLoad.objects.exclude(open_tasks=0).values_list("worker_id", "open_tasks"))
        counted = dict(
            TaskInstance.objects.filter(status__in=QUEUED_TASK_STATUSES, assigned_to__isnull=False)
            .values("assigned_to")
            .annotate(n=Count("pk"))
            .values_list("assigned_to", "n")
        )
    return kept, counted


def test_the_database_changes_loads_under_the_same_lock_as_assignment() -> None:
    # Two places name the lock: services._lock_assignments and the trigger of migration 0010.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('runtime_task_worker_load'::regproc)")
        (trigger,) = cursor.fetchone()
    assert f"pg_advisory_xact_lock({services._ASSIGN_LOCK}, company::int)" in trigger


def test_the_kept_queues_match_the_tasks_through_every_change(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    first, second, third = (
        services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
        for _ in range(3)
    )
    changes: list[Callable[[], object]] = [
        lambda: services.task_start(worker=worker_of(first), task=current(first)),
        lambda: services.task_complete(
            worker=worker_of(first), task=current(first), output={"approved": True}
        ),
        lambda: services.task_release(worker=worker_of(second), task=current(second)),
        lambda: services.task_claim(worker=tenant_a.worker, task=current(second)),
        lambda: services.tasks_reassign(
            actor=tenant_a.ticket_admin, tasks=[current(second), current(third)], worker=tenant_a.admin
        ),
        lambda: services.ticket_cancel(actor=tenant_a.ticket_admin, ticket=third),
    ]
    kept, counted = queues(tenant_a)
    assert kept == counted and sum(counted.values()) == 3
    for change in changes:
        change()
        kept, counted = queues(tenant_a)
        assert kept == counted
    expected = Counter([tenant_a.admin.pk, worker_of(first).pk])  # second's review, first's order
    assert counted == dict(expected)


# --- ticket admins ------------------------------------------------------------------------------


def test_hold_stops_work_and_resume_goes_on(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    services.ticket_hold(actor=tenant_a.ticket_admin, ticket=ticket, note="waiting for budget")
    assert run_status(ticket) == WorkflowStatus.ON_HOLD
    with pytest.raises(WrongState, match="on hold"):
        services.task_complete(worker=worker_of(ticket), task=current(ticket), output={"approved": True})
    with pytest.raises(WrongState):
        services.ticket_hold(actor=tenant_a.ticket_admin, ticket=ticket)
    services.ticket_resume(actor=tenant_a.ticket_admin, ticket=ticket)
    services.task_complete(worker=worker_of(ticket), task=current(ticket), output={"approved": True})
    assert current(ticket).task_key == "order"


def test_cancel_stops_the_ticket_and_its_open_tasks(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    services.ticket_cancel(actor=tenant_a.ticket_admin, ticket=ticket)
    assert run_status(ticket) == WorkflowStatus.CANCELLED
    assert current(ticket).status == TaskStatus.CANCELLED
    with pytest.raises(WrongState, match="cancelled"):
        services.task_complete(worker=worker_of(ticket), task=current(ticket), output={"approved": True})


def test_only_ticket_admins_hold_resume_and_cancel(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    for service in (services.ticket_hold, services.ticket_resume, services.ticket_cancel):
        with pytest.raises(PermissionDenied):
            service(actor=tenant_a.worker, ticket=ticket)


def test_reroute_looks_for_the_way_on_again(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["transitions"][2]["condition"] = "data.approved == false && data.urgent"
    ticket_type = publish(tenant_a.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    services.task_complete(worker=worker_of(ticket), task=current(ticket), output={"approved": False})
    services.run_reroute(actor=tenant_a.ticket_admin, ticket=ticket)  # still no way on
    assert run_status(ticket) == WorkflowStatus.ERROR
    with pytest.raises(WrongState):
        services.ticket_resume(actor=tenant_a.ticket_admin, ticket=ticket)


def test_a_ticket_admin_is_not_a_worker_by_that_role_alone(tenant_a: Tenant) -> None:
    assert not tenant_a.ticket_admin.has_system_role(SystemRole.TASK_WORKER)
    ticket = submit(tenant_a)
    assert worker_of(ticket) != tenant_a.ticket_admin


def test_a_worker_role_limits_who_gets_the_task(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company):
        CompanyRoleMembership.objects.create(user=tenant_a.worker, role=tenant_a.role)
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["worker_role"] = tenant_a.role.name.upper()  # names match in any case
    ticket_type = publish(tenant_a.designer, bundle)
    for _ in range(3):  # the admin, also a task worker, has an empty queue but lacks the role
        ticket = services.ticket_submit(
            ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"}
        )
        assert worker_of(ticket) == tenant_a.worker


def test_a_worker_role_deleted_after_publishing_matches_nobody(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["worker_role"] = tenant_a.role.name
    ticket_type = publish(tenant_a.designer, bundle)
    with company_context(tenant_a.company):
        CompanyRoleMembership.objects.filter(role=tenant_a.role).delete()
        tenant_a.role.delete()
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    task = current(ticket)
    assert (task.status, task.assigned_to) == (TaskStatus.ERROR, None)
    assert "no role" in task.error
    assert run_status(ticket) == WorkflowStatus.ERROR


def test_only_pool_tasks_can_be_claimed(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company):
        User.objects.filter(pk__in=[tenant_a.admin.pk, tenant_a.worker.pk]).update(is_available=False)
    ticket = submit(tenant_a)  # automatic: it waits for a worker, it is not in the pool
    with company_context(tenant_a.company):
        User.objects.filter(pk=tenant_a.worker.pk).update(is_available=True)
    tenant_a.worker.refresh_from_db()
    with pytest.raises(WrongState, match="not in the pool"):
        services.task_claim(worker=tenant_a.worker, task=current(ticket))


def test_an_unavailable_worker_is_told_so_when_claiming(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["assignment"] = "pool"
    ticket_type = publish(tenant_a.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    with company_context(tenant_a.company):
        User.objects.filter(pk=tenant_a.worker.pk).update(is_available=False)
    tenant_a.worker.refresh_from_db()
    with pytest.raises(PermissionDenied, match="unavailable"):
        services.task_claim(worker=tenant_a.worker, task=current(ticket))


def test_a_ticket_resumed_with_a_task_in_error_needs_attention(tenant_a: Tenant) -> None:
    ticket = submit(tenant_a)
    services.ticket_hold(actor=tenant_a.ticket_admin, ticket=ticket)
    with company_context(tenant_a.company):  # as an action failing while the ticket was on hold
        TaskInstance.objects.filter(pk=current(ticket).pk).update(status=TaskStatus.ERROR, error="It broke.")
    services.ticket_resume(actor=tenant_a.ticket_admin, ticket=ticket)
    assert run_status(ticket) == WorkflowStatus.ERROR
    services.task_retry(actor=tenant_a.ticket_admin, task=current(ticket))
    assert run_status(ticket) == WorkflowStatus.IN_PROGRESS
    assert current(ticket).status == TaskStatus.OPEN


def test_a_worker_becoming_available_triggers_an_assignment_pass(tenant_a: Tenant) -> None:
    from ticketflower.accounts.services import user_set_availability

    user_set_availability(actor=tenant_a.worker, user=tenant_a.worker, available=False)
    assert not ProcrastinateJob.objects.filter(task_name="runtime.assign_waiting").exists()
    user_set_availability(actor=tenant_a.worker, user=tenant_a.worker, available=True)
    assert ProcrastinateJob.objects.filter(task_name="runtime.assign_waiting").count() == 1


def test_a_start_condition_that_does_not_hold_refuses_the_submission(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["transitions"][0]["condition"] = "has(data.count)"
    ticket_type = publish(tenant_a.designer, bundle)
    with pytest.raises(DataInvalid) as refused:
        services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    assert refused.value.errors == {"": [services.CANNOT_START]}


def test_the_assignment_pass_goes_past_a_task_nobody_may_take(tenant_a: Tenant) -> None:
    blocked_bundle = review_bundle(title="Blocked", ticket_type="Blocked type")
    blocked_bundle["workflow"]["tasks"][0]["worker_role"] = tenant_a.role.name  # nobody holds it
    blocked_type = publish(tenant_a.designer, blocked_bundle)
    open_type = publish(tenant_a.designer, review_bundle())
    with company_context(tenant_a.company):
        User.objects.filter(pk__in=[tenant_a.admin.pk, tenant_a.worker.pk]).update(is_available=False)
    blocked = services.ticket_submit(
        ticket_type=blocked_type, submitted_by=tenant_a.member, data={"item": "x"}
    )
    waiting = services.ticket_submit(ticket_type=open_type, submitted_by=tenant_a.member, data={"item": "y"})
    with company_context(tenant_a.company):
        User.objects.filter(pk=tenant_a.worker.pk).update(is_available=True)
        assert services.waiting_tasks_assign() == 1
    assert current(blocked).assigned_to is None  # the older task still waits for its role
    assert current(waiting).assigned_to == tenant_a.worker
    assert events(blocked).count(EventKind.WAITING) == 1  # a pass adds no history


def test_resuming_sends_an_action_again_whose_job_died_while_on_hold(tenant_a: Tenant) -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0] = {
        "key": "review",
        "title": "Review",
        "type": "SYNC_ACTION",
        "action_url": "https://reviews.example.com/hook",
        "timeout_seconds": 5,
        "output_schema": {"type": "object", "properties": {"approved": {"type": "boolean"}}},
    }
    ticket_type = publish(tenant_a.designer, bundle)
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    with company_context(tenant_a.company):  # the request was in flight when its worker died
        TaskInstance.objects.filter(pk=current(ticket).pk).update(status=TaskStatus.IN_PROGRESS)
    services.ticket_hold(actor=tenant_a.ticket_admin, ticket=ticket)
    before = ProcrastinateJob.objects.filter(task_name="runtime.run_step").count()
    services.ticket_resume(actor=tenant_a.ticket_admin, ticket=ticket)
    assert ProcrastinateJob.objects.filter(task_name="runtime.run_step").count() == before + 1


def test_a_role_that_tasks_wait_for_cannot_be_deleted_on_the_company_site(
    client: Client, tenant_a: Tenant
) -> None:
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["worker_role"] = tenant_a.role.name
    ticket_type = publish(tenant_a.designer, bundle)
    services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    client.force_login(tenant_a.admin)
    url = reverse("company:tenancy_companyrole_delete", args=[tenant_a.role.pk])
    page = client.get(url)
    assert page.status_code == 200 and page.context["protected"]  # says why instead of deleting
    client.post(url, {"post": "yes"})
    with company_context(tenant_a.company):
        assert CompanyRole.objects.filter(pk=tenant_a.role.pk).exists()
