"""The designer's "try" runs in a worker, never in a request."""

from typing import TYPE_CHECKING

from procrastinate.contrib.django import app

from ticketflower.runtime.jobs import RETRY, company_job

if TYPE_CHECKING:
    from ticketflower.codetasks.models import CodeTrial


@app.task(name="codetasks.try_code", retry=RETRY)
@company_job
def try_code(*, trial_id: int) -> None:
    from ticketflower.codetasks.services import code_trial_run

    code_trial_run(trial_id)


def defer_trial(trial: "CodeTrial") -> None:
    """In the caller's transaction: the trial and its job commit together, or neither.

    One try waits per person (the queueing lock: AlreadyEnqueued otherwise), and a company's tries
    run one at a time (the lock), so designers trying code never take a shared worker's slots.
    """
    configured = try_code.configure(
        lock=f"tries-{trial.company_id}", queueing_lock=f"try-{trial.created_by_id}"
    )
    configured.defer(company_id=trial.company_id, trial_id=trial.pk)
