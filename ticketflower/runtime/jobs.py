"""Background jobs of the engine (Procrastinate, on the same PostgreSQL).

Deferred inside the transaction of the change they follow, so a job exists exactly when its
change committed. Every job of a company takes `company_id` and runs inside that company's
context (`company_job`); each is idempotent, because a job whose worker died is run again
(`recover_stalled_jobs`).

Run workers with `manage.py procrastinate worker` (`make run` starts one).
"""

import datetime
import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from ticketflower.runtime import services
from ticketflower.runtime.models import TaskInstance, TicketInstance, WorkflowInstance, WorkflowStatus
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company

logger = logging.getLogger(__name__)
P = ParamSpec("P")

# Unexpected failures (a database restart, a bug) are retried a few times, then left failed
# in the jobs table for an operator; expected failures are handled inside the job.
RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)


def company_job(func: Callable[..., None]) -> Callable[..., None]:
    """Run `func(**kwargs)` inside the context of `company_id`; refuse a job without one."""

    @functools.wraps(func)
    def run(*, company_id: int, **kwargs: Any) -> None:
        try:
            company = Company.unscoped.get(pk=company_id)
        except Company.DoesNotExist:
            logger.info("Job %s for deleted company %s: nothing to do.", func.__name__, company_id)
            return
        with company_context(company):
            func(**kwargs)

    return run


@app.task(name="runtime.run_step", retry=RETRY)
@company_job
def run_step(*, run_id: int) -> None:
    services.run_step(run_id)


@app.task(name="runtime.callback_deadline", retry=RETRY)
@company_job
def callback_deadline(*, task_id: int) -> None:
    services.callback_deadline_pass(task_id)


@app.task(name="runtime.assign_waiting", retry=RETRY)
@company_job
def assign_waiting() -> None:
    services.waiting_tasks_assign()


@app.task(name="runtime.notify", retry=RETRY)
@company_job
def notify(*, what: str, object_id: int) -> None:
    _NOTICES[what](object_id)


def _defer(task: Any, *, company_id: int, **kwargs: Any) -> None:
    task.defer(company_id=company_id, **kwargs)


def _defer_once(task: Any, *, company_id: int, **kwargs: Any) -> None:
    """Defer a job with a queueing lock, in a savepoint: a duplicate must not abort the caller."""
    try:
        with transaction.atomic():
            task.defer(company_id=company_id, **kwargs)
    except AlreadyEnqueued:
        pass


def defer_run_step(run: WorkflowInstance, *, delay: float | None = None) -> None:
    # One job at a time per run (lock); the run's row lock orders the steps themselves.
    options: dict[str, Any] = {"lock": f"run-{run.pk}"}
    if delay:
        options["schedule_in"] = {"seconds": delay}
    _defer(run_step.configure(**options), company_id=run.company_id, run_id=run.pk)


def defer_callback_deadline(task: TaskInstance, deadline: datetime.datetime) -> None:
    _defer(callback_deadline.configure(schedule_at=deadline), company_id=task.company_id, task_id=task.pk)


def defer_assign_waiting() -> None:
    from ticketflower.tenancy.context import current_company

    _defer_assign_waiting(current_company().pk)


def _defer_assign_waiting(company_id: int) -> None:
    # One pass queued per company is enough: it assigns every waiting task it can.
    _defer_once(assign_waiting.configure(queueing_lock=f"assign-{company_id}"), company_id=company_id)


def defer_notify_assigned(task: TaskInstance) -> None:
    _defer(notify, company_id=task.company_id, what="assigned", object_id=task.pk)


def defer_notify_pool(task: TaskInstance) -> None:
    _defer(notify, company_id=task.company_id, what="pool", object_id=task.pk)


def defer_notify_finished(ticket: TicketInstance) -> None:
    _defer(notify, company_id=ticket.company_id, what="finished", object_id=ticket.pk)


# --- e-mail -------------------------------------------------------------------------------------


POOL_URL = "worker:runtime_pooltask_changelist"


def _link(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _notify_assigned(task_id: int) -> None:
    task = TaskInstance.objects.select_related("assigned_to").filter(pk=task_id).first()
    worker = task.assigned_to if task else None
    if task is None or worker is None or not worker.is_active or not worker.notify_task_assigned:
        return
    send_mail(
        f"New task: {task.title}",
        f"“{task.title}” is yours now.\n\n{_link(reverse('worker:runtime_mytask_change', args=[task.pk]))}\n",
        None,
        [worker.email],
    )


def _notify_pool(task_id: int) -> None:
    task = TaskInstance.objects.filter(pk=task_id).first()
    if task is None or task.assigned_to_id is not None:
        return
    recipients = [w.email for w in services.eligible_workers(task).filter(notify_pool_tasks=True)]
    if recipients:
        send_mail(
            f"A task waits in the pool: {task.title}",
            f"“{task.title}” waits for someone to claim it.\n\n{_link(reverse(POOL_URL))}\n",
            None,
            recipients,
        )


def _notify_finished(ticket_id: int) -> None:
    ticket = (
        TicketInstance.objects.select_related("created_by", "workflow_instance").filter(pk=ticket_id).first()
    )
    if ticket is None or ticket.workflow_instance is None:
        return
    submitter, status = ticket.created_by, ticket.workflow_instance.status
    if submitter is None or not submitter.is_active or not submitter.notify_ticket_finished:
        return
    outcome = {
        WorkflowStatus.COMPLETED: "is done",
        WorkflowStatus.CANCELLED: "was cancelled",
        WorkflowStatus.ERROR: "ran into a problem; the ticket admins have been told",
    }.get(WorkflowStatus(status))
    if outcome is None:
        return
    send_mail(
        f"Your ticket {ticket} {outcome}",
        f"Your ticket “{ticket}” {outcome}.\n\n{_link(reverse('portal:ticket', args=[ticket.pk]))}\n",
        None,
        [submitter.email],
    )


_NOTICES: dict[str, Callable[[int], None]] = {
    "assigned": _notify_assigned,
    "pool": _notify_pool,
    "finished": _notify_finished,
}


# --- housekeeping -------------------------------------------------------------------------------


@app.periodic(cron=settings.JOB_RECOVERY_CRON)
@app.task(name="runtime.recover_stalled_jobs", queueing_lock="recover_stalled_jobs", pass_context=True)
async def recover_stalled_jobs(context: Any, timestamp: int) -> None:
    """Jobs of a worker that stopped sending heartbeats (killed, crashed) are run again."""
    stalled = await context.app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.JOB_STALLED_SECONDS
    )
    for job in stalled:
        logger.warning("Retrying job %s (%s): its worker stopped.", job.id, job.task_name)
        await context.app.job_manager.retry_job(job)


@app.periodic(cron="* * * * *")
@app.task(name="runtime.assign_waiting_everywhere", queueing_lock="assign_waiting_everywhere")
def assign_waiting_everywhere(timestamp: int) -> None:
    """A safety net: companies with tasks waiting for a worker get an assignment pass."""
    # Unscoped on purpose: finds which companies to act for; each pass then runs in its own.
    companies = (
        TaskInstance.unscoped.filter(
            status="PENDING", task_type="FORM", assigned_to__isnull=True, assignment="auto"
        )
        .values_list("company_id", flat=True)
        .distinct()
    )
    for company_id in list(companies):
        _defer_assign_waiting(company_id)


@app.periodic(cron="* * * * *")
@app.task(name="runtime.fold_status_counts", queueing_lock="fold_status_counts")
def fold_status_counts(timestamp: int) -> None:
    """Keeps the dashboards' counts to a few rows per company (models.StatusCount)."""
    services.status_counts_fold()
