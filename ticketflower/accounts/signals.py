"""Login bookkeeping that must not need a company context."""

from typing import Any

from django.contrib.auth import user_logged_in
from django.contrib.auth.models import update_last_login
from django.utils import timezone

from ticketflower.accounts.models import User


def record_last_login(sender: Any, user: User, **kwargs: Any) -> None:
    # Replaces Django's receiver, which saves the user before any company context exists.
    User.unscoped.filter(pk=user.pk).update(last_login=timezone.now())


def connect() -> None:
    user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
    user_logged_in.connect(record_last_login, dispatch_uid="record_last_login")
