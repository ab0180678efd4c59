"""Reads about users."""

from django.db.models import Prefetch, QuerySet

from ticketflower.accounts.models import ApiToken, User, normalize_email
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


def user_api_tokens(user: User) -> QuerySet[ApiToken]:
    """`user`'s own tokens that are not revoked, newest first (the current company's rows only)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")


def api_token_by_hash(key_hash: str) -> ApiToken | None:
    """The token whose secret hashes to `key_hash`, with its user and company, of any company.

    Unscoped by necessity: a bearer token is how an API request *finds* its company. It is
    looked up only by the hash of a secret the caller holds, and answers with that one row.
    """
    return ApiToken.unscoped.select_related("user__company", "company").filter(key_hash=key_hash).first()
