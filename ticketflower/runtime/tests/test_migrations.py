"""The engine's counters, the tickets' statuses and the dashboards' counters start right on a
database that already has runs and assigned tasks, and again after going back and forth."""

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from conftest import Tenant
from ticketflower.runtime import services
from ticketflower.runtime.models import (
    CountSubject,
    TaskInstance,
    TicketInstance,
    WorkerLoad,
    WorkflowInstance,
)
from ticketflower.runtime.selectors import status_counts
from ticketflower.tenancy.context import company_context

from .workflows import current, publish, review_bundle

BEFORE_COUNTERS = [("runtime", "0008_worker_role_restrict")]
BEFORE_TICKET_STATUS = [("runtime", "0011_fileupload_moved_to_files")]
BEFORE_KEPT_COUNTS = [("runtime", "0012_ticket_status_counts_and_list_indexes")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_task_counts_and_worker_loads_are_filled_in_from_existing_tasks(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    tickets = [
        services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
        for _ in range(3)
    ]
    task = current(tickets[0])
    assert task.assigned_to is not None
    services.task_complete(worker=task.assigned_to, task=task, output={"approved": True})
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate(BEFORE_COUNTERS)  # the columns, the table and the trigger are gone with their data
    migrate(latest)
    with company_context(tenant_a.company):
        counts = dict(WorkflowInstance.objects.values_list("pk", "task_count"))
        loads = {
            load.worker_id: (load.open_tasks, load.last_assigned_at) for load in WorkerLoad.objects.all()
        }
        tasks = list(TaskInstance.objects.all())
    assert counts == {ticket.workflow_instance_id: 2 if ticket == tickets[0] else 1 for ticket in tickets}
    expected: dict[Any, Any] = {}
    for task in (task for task in tasks if task.assigned_to_id):
        queued, last = expected.get(task.assigned_to_id, (0, None))
        queued += task.status in ("OPEN", "IN_PROGRESS")
        expected[task.assigned_to_id] = (queued, max(filter(None, [last, task.assigned_at])))
    assert loads == expected


@pytest.mark.django_db(transaction=True)
def test_ticket_statuses_and_counters_are_filled_in_again_going_back_and_forth(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    tickets = [
        services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
        for _ in range(3)
    ]
    services.ticket_cancel(actor=tenant_a.admin, ticket=tickets[0], note="")
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()

    def state() -> tuple[dict[int, str], dict[Any, int], dict[Any, int]]:
        with company_context(tenant_a.company):
            statuses = dict(TicketInstance.objects.values_list("pk", "status"))
            return statuses, status_counts(CountSubject.TICKET), status_counts(CountSubject.TASK)

    before = state()
    assert before[0][tickets[0].pk] == "CANCELLED" and before[1][(ticket_type.pk, "IN_PROGRESS")] == 2
    for back_to in (BEFORE_KEPT_COUNTS, BEFORE_TICKET_STATUS):
        migrate(back_to)
        migrate(latest)
        assert state() == before, back_to
