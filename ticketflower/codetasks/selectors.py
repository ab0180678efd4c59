"""Reads of code trials: a person sees only their own."""

from ticketflower.accounts.models import User
from ticketflower.codetasks.models import CodeTrial


def code_trial_of(user: User, trial_id: int) -> CodeTrial | None:
    """The trial if `user` started it (the manager is company-scoped too); else None."""
    return CodeTrial.objects.filter(pk=trial_id, created_by=user).select_related("task").first()
