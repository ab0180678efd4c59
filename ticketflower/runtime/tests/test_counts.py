"""What the database keeps for lists and dashboards: a ticket's status, and the status counters."""

from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from conftest import Tenant
from ticketflower.admin_sites.dashboards import tickets_dashboard
from ticketflower.admin_sites.tests.work import give, review_ticket, run_of
from ticketflower.runtime import services
from ticketflower.runtime.models import (
    CountSubject,
    StatusCount,
    TaskInstance,
    TicketInstance,
    WorkflowInstance,
    WorkflowStatus,
)
from ticketflower.runtime.selectors import status_counts
from ticketflower.runtime.tests.workflows import current
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db


def counted_by_hand(tenant: Tenant) -> tuple[dict[Any, int], dict[Any, int]]:
    """The counters' answer worked out from the rows themselves."""
    with company_context(tenant.company):
        tickets = TicketInstance.objects.values_list("ticket_type_id", "status").annotate(n=Count("pk"))
        tasks = TaskInstance.objects.values_list("status").annotate(n=Count("pk"))
        return (
            {(type_id, status): n for type_id, status, n in tickets},
            {(None, status): n for status, n in tasks},
        )


def counters(tenant: Tenant) -> tuple[dict[Any, int], dict[Any, int]]:
    with company_context(tenant.company):
        return status_counts(CountSubject.TICKET), status_counts(CountSubject.TASK)


def test_a_ticket_carries_its_runs_status_whatever_changes_it(tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    with company_context(tenant_a.company):
        assert TicketInstance.objects.get(pk=ticket.pk).status == WorkflowStatus.IN_PROGRESS
        # Any write of the run's status, even a raw update, reaches the ticket.
        WorkflowInstance.objects.filter(pk=ticket.workflow_instance_id).update(status=WorkflowStatus.ON_HOLD)
        assert TicketInstance.objects.get(pk=ticket.pk).status == WorkflowStatus.ON_HOLD
        # And the ticket cannot be told otherwise: saving a stale copy takes the run's again.
        ticket.status = WorkflowStatus.COMPLETED
        ticket.save()
        assert TicketInstance.objects.get(pk=ticket.pk).status == WorkflowStatus.ON_HOLD
        TicketInstance.objects.filter(pk=ticket.pk).update(status=WorkflowStatus.CANCELLED)
        assert TicketInstance.objects.get(pk=ticket.pk).status == WorkflowStatus.ON_HOLD


def test_the_counters_follow_every_change_and_folding_keeps_them(tenant_a: Tenant, tenant_b: Tenant) -> None:
    first = review_ticket(tenant_a)
    second = review_ticket(tenant_a)
    review_ticket(tenant_b)  # another company's work counts for it alone
    services.task_complete(worker=tenant_a.worker, task=current(first), output={"approved": True})
    services.ticket_cancel(actor=tenant_a.ticket_admin, ticket=second, note="")
    assert run_of(second).status == WorkflowStatus.CANCELLED
    assert counters(tenant_a) == counted_by_hand(tenant_a)
    assert counters(tenant_b) == counted_by_hand(tenant_b)
    tickets, tasks = counters(tenant_a)
    assert sum(tickets.values()) == 2 and sum(tasks.values()) == 3  # review, order; review cancelled

    with company_context(tenant_a.company):
        appended = StatusCount.objects.count()
    services.status_counts_fold()
    with company_context(tenant_a.company):
        folded = StatusCount.objects.count()
    assert folded < appended  # one row per type and status, the -1s gone with their +1s
    assert folded == len([n for n in {**counters(tenant_a)[0], **counters(tenant_a)[1]}.values() if n])
    assert counters(tenant_a) == counted_by_hand(tenant_a)

    third = review_ticket(tenant_a)  # appended after a fold: counted on top of it
    give(current(third), tenant_a.worker)
    assert counters(tenant_a) == counted_by_hand(tenant_a)


def test_a_deleted_ticket_leaves_the_counters(tenant_a: Tenant) -> None:
    ticket = review_ticket(tenant_a)
    with company_context(tenant_a.company):
        TicketInstance.objects.filter(pk=ticket.pk).delete()  # and its history
        WorkflowInstance.objects.filter(pk=ticket.workflow_instance_id).delete()  # and its tasks
    assert counters(tenant_a) == ({}, {})


def test_the_dashboard_reads_the_counters(tenant_a: Tenant) -> None:
    review_ticket(tenant_a)
    moved_on = review_ticket(tenant_a)
    services.task_complete(worker=tenant_a.worker, task=current(moved_on), output={"approved": True})
    services.ticket_cancel(actor=tenant_a.ticket_admin, ticket=review_ticket(tenant_a), note="")
    with company_context(tenant_a.company):
        dashboard = tickets_dashboard()
    stats = dict(dashboard["stats"])
    assert (stats["Open tickets"], stats["Open tasks"], stats["Tasks in error"]) == (2, 2, 0)
    assert dashboard["tables"][0]["rows"] == [["Ask for something", 2]]


def test_a_deleted_company_takes_its_counts_along(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """The counters are the database's: they go with their company however it is deleted."""
    ticket = review_ticket(tenant_a)
    review_ticket(tenant_b)
    with company_context(tenant_a.company):  # a company with tickets is protected: these go first
        TicketInstance.objects.filter(pk=ticket.pk).delete()
        WorkflowInstance.objects.filter(pk=ticket.workflow_instance_id).delete()
    gone = tenant_a.company.pk
    tenant_a.company.delete()
    connection.check_constraints()  # the deferred foreign keys, as at commit
    assert not StatusCount.unscoped.filter(company_id=gone).exists()
    assert counters(tenant_b) == counted_by_hand(tenant_b)
