"""Writes on companies and company roles. Callers pass the acting user; every write checks it."""

from django.db import transaction

from ticketflower.accounts.models import User
from ticketflower.tenancy.context import acting_as
from ticketflower.tenancy.models import CompanyRole, SystemRole, new_webhook_secret
from ticketflower.tenancy.permissions import require_system_role


@transaction.atomic
def company_role_create(*, actor: User, name: str, description: str = "") -> CompanyRole:
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor) as company:
        role = CompanyRole(company=company, name=name.strip(), description=description.strip())
        role.full_clean()
        role.save()
        return role


@transaction.atomic
def company_role_update(*, actor: User, role: CompanyRole, name: str, description: str = "") -> CompanyRole:
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor):
        role = CompanyRole.objects.select_for_update().get(pk=role.pk)
        role.name = name.strip()
        role.description = description.strip()
        role.full_clean()
        role.save()
        return role


@transaction.atomic
def company_update(
    *,
    actor: User,
    name: str,
    restrict_definitions: bool | None = None,
    action_max_attempts: int | None = None,
) -> None:
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor) as company:
        company.name = name.strip()
        if restrict_definitions is not None:
            company.restrict_definitions = restrict_definitions
        if action_max_attempts is not None:
            company.action_max_attempts = action_max_attempts
        company.full_clean()
        company.save(update_fields=["name", "restrict_definitions", "action_max_attempts"])


@transaction.atomic
def company_webhook_secret_rotate(*, actor: User) -> str:
    """Give the actor's company a new signing secret and return it; the old one stops at once.

    Every request sent from now on, retries of earlier calls included, is signed with the new
    secret: the company's receivers must switch to it.
    """
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor) as company:
        company.webhook_secret = new_webhook_secret()
        company.save(update_fields=["webhook_secret"])
        return company.webhook_secret
