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
    # In the caller's transaction: the trial and its job commit together, or neither.
    try_code.defer(company_id=trial.company_id, trial_id=trial.pk)
