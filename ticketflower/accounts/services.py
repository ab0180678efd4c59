"""Writes on accounts: company sign-up, a company admin managing its people, one's own profile.

Every function validates before it writes and raises ValidationError (keyed by field) for
bad input, PermissionDenied for a missing role, and DoesNotExist for anything outside the
actor's company — the same as for something that does not exist.
"""

from collections.abc import Iterable

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ticketflower.accounts.models import User, normalize_email
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
