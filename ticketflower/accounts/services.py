"""Writes on accounts: company sign-up, a company admin managing its people, one's own profile.

Every function validates before it writes and raises ValidationError (keyed by field) for
bad input, PermissionDenied for a missing role, and DoesNotExist for anything outside the
actor's company — the same as for something that does not exist.
"""

import hashlib
import secrets
import string
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ticketflower.accounts.models import ApiToken, User, normalize_email
from ticketflower.accounts.selectors import email_is_taken, has_other_active_admin
from ticketflower.tenancy.context import acting_as, company_context, company_context_of, current_company
from ticketflower.tenancy.models import (
    Company,
    CompanyRole,
    CompanyRoleMembership,
    SystemRole,
    SystemRoleAssignment,
)
from ticketflower.tenancy.permissions import require_system_role

EMAIL_TAKEN = "An account with this e-mail address already exists."


@transaction.atomic
def company_sign_up(*, company_name: str, email: str, password: str, first_name: str, last_name: str) -> User:
    """Create a company and its first user, who holds every system role; all or nothing."""
    company = Company(name=company_name.strip())
    try:
        company.full_clean()
    except ValidationError as exc:
        raise ValidationError({"company_name": exc.message_dict.get("name", exc.messages)}) from exc
    company.save()
    with company_context(company):
        return _user_create(
            company=company,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            system_roles=list(SystemRole),
        )


@transaction.atomic
def user_create(
    *,
    actor: User,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None = None,
    system_roles: Iterable[SystemRole] = (SystemRole.USER,),
    company_roles: Iterable[CompanyRole] = (),
    is_available: bool = True,
) -> User:
    """A company admin adds a person to their own company.

    Without a password the account cannot log in until its owner sets one through
    "forgot password".
    """
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor) as company:
        user = _user_create(
            company=company,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            system_roles=system_roles,
            is_available=is_available,
        )
        _set_company_roles(user, company_roles)
        return user


def _user_create(
    *,
    company: Company,
    email: str,
    password: str | None,
    first_name: str,
    last_name: str,
    system_roles: Iterable[SystemRole],
    is_available: bool = True,
) -> User:
    user = User(
        company=company,
        email=normalize_email(email),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        is_available=is_available,
    )
    if email_is_taken(user.email):
        raise ValidationError({"email": EMAIL_TAKEN})
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    if password is None:
        user.set_unusable_password()
    else:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.error_list}) from exc
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent sign-up took the address after our check
        raise ValidationError({"email": EMAIL_TAKEN}) from exc
    _set_system_roles(user, system_roles)
    return user


@transaction.atomic
def user_set_system_roles(*, actor: User, user: User, roles: Iterable[SystemRole]) -> None:
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor):
        user = User.objects.select_for_update().get(pk=user.pk)
        roles = set(roles)
        if SystemRole.ADMIN not in roles:
            _keep_an_admin(removing=user)
        _set_system_roles(user, roles)


@transaction.atomic
def user_set_company_roles(*, actor: User, user: User, roles: Iterable[CompanyRole]) -> None:
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor):
        user = User.objects.get(pk=user.pk)
        _set_company_roles(user, roles)


@transaction.atomic
def user_set_active(*, actor: User, user: User, active: bool) -> None:
    """Deactivate (or reactivate) a person; deactivated accounts cannot log in."""
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor):
        user = User.objects.select_for_update().get(pk=user.pk)
        if not active:
            _keep_an_admin(removing=user)
        user.is_active = active
        user.save(update_fields=["is_active"])


@transaction.atomic
def user_set_availability(*, actor: User, user: User, available: bool) -> None:
    """Workers may set their own availability; admins anybody's in their company."""
    with acting_as(actor):
        if user.pk != actor.pk:
            require_system_role(actor, SystemRole.ADMIN)
        user = User.objects.get(pk=user.pk)
        user.is_available = available
        user.save(update_fields=["is_available"])
        if available:
            from ticketflower.runtime import jobs  # the engine builds on accounts, not the reverse

            jobs.defer_assign_waiting()  # tasks waiting for a worker may go to this one now


@transaction.atomic
def profile_update(*, user: User, first_name: str, last_name: str, email: str) -> User:
    """A person edits their own names and e-mail address."""
    with company_context_of(user):
        return _set_details(user, email=email, first_name=first_name, last_name=last_name)


def _set_details(user: User, *, email: str, first_name: str, last_name: str) -> User:
    """Names and e-mail, checked: the address stays unique across companies, even in a race."""
    email = normalize_email(email)
    if email != user.email and email_is_taken(email, exclude=user):
        raise ValidationError({"email": EMAIL_TAKEN})
    user.email, user.first_name, user.last_name = email, first_name.strip(), last_name.strip()
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "first_name", "last_name"])
    except IntegrityError as exc:
        raise ValidationError({"email": EMAIL_TAKEN}) from exc
    return user


def _set_system_roles(user: User, roles: Iterable[SystemRole]) -> None:
    wanted = {SystemRole(role) for role in roles}
    SystemRoleAssignment.objects.filter(user=user).exclude(role__in=wanted).delete()
    held = set(SystemRoleAssignment.objects.filter(user=user).values_list("role", flat=True))
    SystemRoleAssignment.objects.bulk_create(
        SystemRoleAssignment(company=current_company(), user=user, role=role)
        for role in sorted(wanted - held)
    )
    user.__dict__.pop("system_roles", None)  # drop the cached role set


def _set_company_roles(user: User, roles: Iterable[CompanyRole]) -> None:
    wanted_ids = {role.pk for role in roles}
    # Look the roles up in the current company: another company's role is "not found".
    found = set(CompanyRole.objects.filter(pk__in=wanted_ids).values_list("pk", flat=True))
    if found != wanted_ids:
        raise CompanyRole.DoesNotExist("Company role not found.")
    CompanyRoleMembership.objects.filter(user=user).exclude(role_id__in=wanted_ids).delete()
    held = set(CompanyRoleMembership.objects.filter(user=user).values_list("role_id", flat=True))
    CompanyRoleMembership.objects.bulk_create(
        CompanyRoleMembership(company=current_company(), user=user, role_id=role_id)
        for role_id in sorted(wanted_ids - held)
    )


def _keep_an_admin(*, removing: User) -> None:
    # Lock the company's admin rows, so two admins demoting each other at the same moment
    # cannot both succeed.
    if not has_other_active_admin(removing, lock=True):
        raise ValidationError("A company needs at least one active admin.")


@transaction.atomic
def user_update_details(*, actor: User, user: User, email: str, first_name: str, last_name: str) -> User:
    """A company admin corrects a person's names or e-mail address."""
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor):
        user = User.objects.select_for_update().get(pk=user.pk)
        return _set_details(user, email=email, first_name=first_name, last_name=last_name)


@transaction.atomic
def notification_preferences_update(
    *, user: User, task_assigned: bool, pool_tasks: bool, ticket_finished: bool
) -> User:
    """A person chooses which e-mails the engine sends them."""
    with acting_as(user):
        user.notify_task_assigned = task_assigned
        user.notify_pool_tasks = pool_tasks
        user.notify_ticket_finished = ticket_finished
        user.save(update_fields=["notify_task_assigned", "notify_pool_tasks", "notify_ticket_finished"])
        return user


# --- personal API tokens ---------------------------------------------------------------------

API_TOKEN_PREFIX = "tf_"  # noqa: S105  (how every secret starts, not a secret)
MAX_ACTIVE_API_TOKENS = 20
# Recording every request's use would write a row per API call; a minute is close enough.
API_TOKEN_USE_RESOLUTION = timedelta(minutes=1)
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


def api_token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Make a personal API token for `user`; the secret is returned once and never stored.

    The secret reads `tf_<prefix>_<random>`: 8 characters that lists show, then 32 random
    bytes (URL-safe base64). Platform operators (no company) get none: the API acts in a company.
    """
    if user.company_id is None:
        raise ValidationError("Platform operators have no company to act in, so no API tokens.")
    with acting_as(user):
        name = name.strip()
        if not name:
            raise ValidationError({"name": "Give the token a name, so you can tell it apart later."})
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError({"expires_at": "A token cannot expire in the past."})
        # Locks the user's row, so two requests at once cannot both pass the count.
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = ApiToken.objects.filter(user=user, revoked_at__isnull=True).exclude(
            expires_at__lte=timezone.now()
        )
        if active.count() >= MAX_ACTIVE_API_TOKENS:
            raise ValidationError(f"You have {MAX_ACTIVE_API_TOKENS} active tokens; revoke one first.")
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
        secret = f"{API_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        token = ApiToken(
            user=user, name=name, prefix=prefix, key_hash=api_token_hash(secret), expires_at=expires_at
        )
        token.full_clean(exclude=["company", "user"])
        token.save()
        return token, secret


@transaction.atomic
def api_token_revoke(*, user: User, token: ApiToken) -> ApiToken:
    """`user` revokes one of their own tokens; another's is DoesNotExist, as if there were none.

    Revoking twice keeps the first time.
    """
    with acting_as(user):
        ApiToken.objects.filter(pk=token.pk, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        revoked: ApiToken = ApiToken.objects.get(pk=token.pk, user=user)
        return revoked


def api_token_mark_used(*, token: ApiToken) -> None:
    """Note that `token` was just used, at most once per API_TOKEN_USE_RESOLUTION (compare-and-set)."""
    now = timezone.now()
    if token.last_used_at is not None and token.last_used_at > now - API_TOKEN_USE_RESOLUTION:
        return  # as loaded: no write needed (the UPDATE below re-checks for concurrent requests)
    with company_context(token.company):
        recent = Q(last_used_at__gt=now - API_TOKEN_USE_RESOLUTION)
        if ApiToken.objects.filter(pk=token.pk).exclude(recent).update(last_used_at=now):
            token.last_used_at = now
