"""Reads about users."""

from django.db.models import Prefetch, QuerySet

from ticketflower.accounts.models import User, normalize_email
from ticketflower.tenancy.models import SystemRole, SystemRoleAssignment


def email_is_taken(email: str, *, exclude: User | None = None) -> bool:
    """Whether any account, of any company, uses `email`.

    Unscoped by necessity: e-mail addresses are logins and unique platform-wide. It answers
    only yes or no, and sign-up must tell a person their address is already registered.
    """
    accounts = User.unscoped.filter(email=normalize_email(email))
    if exclude is not None:
        accounts = accounts.exclude(pk=exclude.pk)
    return accounts.exists()


def company_users() -> QuerySet[User]:
    """The current company's users with their roles, ready for a list."""
    return User.objects.prefetch_related(
        Prefetch("system_role_assignments", queryset=SystemRoleAssignment.objects.order_by("role")),
        "company_roles",
    ).order_by("email")


def has_other_active_admin(user: User, *, lock: bool = False) -> bool:
    """Whether an active company admin other than `user` exists (a company keeps one).

    `lock` takes row locks on the admin assignments, for a write that depends on the answer.
    """
    admins = SystemRoleAssignment.objects.filter(role=SystemRole.ADMIN)
    if lock:
        admins = admins.select_for_update()
    return any(
        active and user_id != user.pk for user_id, active in admins.values_list("user_id", "user__is_active")
    )
