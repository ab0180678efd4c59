"""Writes on companies and company roles. Callers pass the acting user; every write checks it."""

from django.db import transaction

from ticketflower.accounts.models import User
from ticketflower.tenancy.context import acting_as
from ticketflower.tenancy.models import CompanyRole, SystemRole
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
def company_update(*, actor: User, name: str, restrict_definitions: bool | None = None) -> None:
    require_system_role(actor, SystemRole.ADMIN)
    with acting_as(actor) as company:
        company.name = name.strip()
        if restrict_definitions is not None:
            company.restrict_definitions = restrict_definitions
        company.full_clean()
        company.save(update_fields=["name", "restrict_definitions"])
