"""Jobs act for the company they were deferred for, and for none without one.

A job is given `company_id` plus ids; run with another company's ids (a forged or confused
job), it finds nothing and changes nothing.
"""

import pytest
from django.core import mail

from conftest import Tenant
from ticketflower.runtime import jobs, services
from ticketflower.runtime.models import TaskInstance, TaskStatus, TicketEvent, WorkflowInstance
from ticketflower.tenancy.context import NoCompanyContext, company_context

from .workflows import current, publish, review_bundle

pytestmark = pytest.mark.django_db


def test_a_job_for_one_company_cannot_touch_anothers_rows(tenant_a: Tenant, tenant_b: Tenant) -> None:
    ticket_type = publish(tenant_b.designer, review_bundle())
    theirs = services.ticket_submit(ticket_type=ticket_type, submitted_by=tenant_b.member, data={"item": "x"})
    task = current(theirs)
    with company_context(tenant_b.company):
        TaskInstance.objects.filter(pk=task.pk).update(status=TaskStatus.IN_PROGRESS, task_type="SYNC_ACTION")
        before = (list(TaskInstance.objects.values_list("pk", "status")), TicketEvent.objects.count())
    mail.outbox.clear()
    as_a = {"company_id": tenant_a.company.pk}
    with pytest.raises(WorkflowInstance.DoesNotExist):
        jobs.run_step(run_id=theirs.workflow_instance_id, **as_a)
    jobs.callback_deadline(task_id=task.pk, **as_a)
    for what in ("assigned", "pool"):
        jobs.notify(what=what, object_id=task.pk, **as_a)
    jobs.notify(what="finished", object_id=theirs.pk, **as_a)
    jobs.assign_waiting(**as_a)
    with company_context(tenant_b.company):
        after = (list(TaskInstance.objects.values_list("pk", "status")), TicketEvent.objects.count())
    assert after == before
    assert mail.outbox == []


def test_the_engine_refuses_to_work_without_a_company_context(tenant_a: Tenant) -> None:
    with pytest.raises(TypeError):
        jobs.run_step(run_id=1)  # a job without its company_id
    with pytest.raises(NoCompanyContext):
        services.run_step(1)
    with pytest.raises(NoCompanyContext):
        services.waiting_tasks_assign()
