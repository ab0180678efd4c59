"""Reads about users."""

from django.db.models import Prefetch, QuerySet

from ticketflower.accounts.models import User, normalize_email
from ticketflower.tenancy.models import SystemRoleAssignment


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


def is_last_active_admin(user: User) -> bool:
    """Whether `user` is the only active company admin (who must stay one)."""
    admins = SystemRoleAssignment.objects.filter(role="admin", user__is_active=True).values_list(
        "user_id", flat=True
    )
    return list(admins) == [user.pk]
