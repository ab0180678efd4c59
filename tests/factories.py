"""Test data, in one place. Rows are made the way the app makes them: inside a company context."""

import itertools
from collections.abc import Iterable

from ticketflower.accounts.models import User
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import (
    Company,
    CompanyRole,
    CompanyRoleMembership,
    SystemRole,
    SystemRoleAssignment,
)

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


def make_company(name: str | None = None) -> Company:
    return Company.unscoped.create(name=name or f"Company {next(_seq)}")


def make_user(
    company: Company,
    *,
    email: str | None = None,
    roles: Iterable[SystemRole] = (SystemRole.USER,),
    company_roles: Iterable[CompanyRole] = (),
    password: str = PASSWORD,
    **extra: object,
) -> User:
    with company_context(company):
        user = User.objects.create_user(
            email or f"person{next(_seq)}@{company.name.lower().replace(' ', '-')}.test",
            password,
            company=company,
            **extra,
        )
        SystemRoleAssignment.objects.bulk_create(
            SystemRoleAssignment(company=company, user=user, role=role) for role in roles
        )
        CompanyRoleMembership.objects.bulk_create(
            CompanyRoleMembership(company=company, user=user, role=role) for role in company_roles
        )
    return user


def make_company_role(company: Company, name: str, description: str = "") -> CompanyRole:
    with company_context(company):
        role: CompanyRole = CompanyRole.objects.create(name=name, description=description)
        return role
