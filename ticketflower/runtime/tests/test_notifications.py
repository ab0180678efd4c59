"""E-mail from the engine: deferred as jobs with the change, sent when the job runs, as each person chose."""

from typing import Any

import pytest
from django.core import mail
from procrastinate.contrib.django.models import ProcrastinateJob

from conftest import Tenant
from ticketflower.accounts.models import User
from ticketflower.runtime import jobs, services
from ticketflower.tenancy.context import company_context

from .workflows import current, publish, review_bundle

pytestmark = pytest.mark.django_db


def run_notify_jobs() -> list[dict[str, Any]]:
    """Run the notify jobs deferred so far, as a worker would, with the arguments they were given."""
    deferred = list(ProcrastinateJob.objects.filter(task_name="runtime.notify").order_by("id"))
    for job in deferred:
        jobs.notify(**job.args)
    return [job.args for job in deferred]


def test_the_assignee_is_told_about_a_new_task(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    run_notify_jobs()
    (message,) = mail.outbox
    worker = current(ticket).assigned_to
    assert worker is not None and message.to == [worker.email]
    assert "Review" in message.subject and f"/worker/runtime/mytask/{current(ticket).pk}/" in message.body


def test_a_person_who_turned_it_off_gets_no_mail(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company):
        User.objects.filter(pk__in=[tenant_a.admin.pk, tenant_a.worker.pk]).update(notify_task_assigned=False)
    ticket_type = publish(tenant_a.designer, review_bundle())
    services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    assert run_notify_jobs()  # the job ran
    assert mail.outbox == []


def test_the_submitter_is_told_when_the_ticket_is_done(tenant_a: Tenant) -> None:
    ticket_type = publish(tenant_a.designer, review_bundle())
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    worker = current(ticket).assigned_to
    assert worker is not None
    services.task_complete(worker=worker, task=current(ticket), output={"approved": False})
    decline = current(ticket)
    assert decline.assigned_to is not None
    services.task_complete(worker=decline.assigned_to, task=decline, output={})
    run_notify_jobs()
    to_submitter = [m for m in mail.outbox if m.to == [tenant_a.member.email]]
    assert len(to_submitter) == 1 and "is done" in to_submitter[0].subject
    assert f"/my-tickets/{ticket.pk}/" in to_submitter[0].body


def test_pool_tasks_are_announced_only_to_eligible_workers_who_asked(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company):
        User.objects.filter(pk=tenant_a.worker.pk).update(notify_pool_tasks=True)
        User.objects.filter(pk=tenant_a.member.pk).update(notify_pool_tasks=True)  # not a task worker
    bundle = review_bundle()
    bundle["workflow"]["tasks"][0]["assignment"] = "pool"
    ticket_type = publish(tenant_a.designer, bundle)
    services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_a.member, data={"item": "x"})
    run_notify_jobs()
    (message,) = mail.outbox
    assert message.to == [tenant_a.worker.email] and "pool" in message.subject
