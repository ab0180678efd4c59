"""Project-wide pytest setup: the embedded PostgreSQL server's lifetime and shared fixtures."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.factories import make_company, make_company_role, make_user
from ticketflower.accounts.models import User
from ticketflower.core.db import server
from ticketflower.tenancy.models import Company, CompanyRole, SystemRole

_started_server: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    pgdata = settings.DATABASES["default"].get("PGDATA")
    if pgdata and not server.is_running(Path(pgdata)):
        _started_server.append(Path(pgdata))


def pytest_unconfigure(config: pytest.Config) -> None:
    # Stop the embedded server only if this run started it (a `make run` may be using it).
    from django.db import connections

    connections.close_all()
    for pgdata in _started_server:
        server.stop(pgdata)


@dataclass
class Tenant:
    """A company with one user per system role, plus a company role."""

    company: Company
    admin: User
    designer: User
    ticket_admin: User
    worker: User
    member: User
    role: CompanyRole

    @property
    def users(self) -> list[User]:
        return [self.admin, self.designer, self.ticket_admin, self.worker, self.member]


def make_tenant(name: str) -> Tenant:
    company = make_company(name)
    # The role name carries the company's name, so a leak of it is visible to the probe.
    role = make_company_role(company, f"{name.split()[0]} staff", f"Everybody at {name}")
    slug = name.lower().replace(" ", "-")
    return Tenant(
        company=company,
        admin=make_user(company, email=f"admin@{slug}.test", roles=list(SystemRole), first_name="Ada"),
        designer=make_user(company, email=f"designer@{slug}.test", roles=[SystemRole.WORKFLOW_CREATOR]),
        ticket_admin=make_user(company, email=f"tickets@{slug}.test", roles=[SystemRole.TICKET_ADMIN]),
        worker=make_user(company, email=f"worker@{slug}.test", roles=[SystemRole.TASK_WORKER]),
        member=make_user(company, email=f"member@{slug}.test", company_roles=[role]),
        role=role,
    )


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return make_tenant("Alpha Florists")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return make_tenant("Bravo Bakery")


SANDBOX_ORIGIN = "http://localhost:8001"


@pytest.fixture
def sandbox_origin(settings: Any) -> str:
    """Layouts on, for tests that read the pages' frames (browser tests use `layout_sandbox`)."""
    settings.LAYOUT_SANDBOX_ORIGIN = SANDBOX_ORIGIN
    return SANDBOX_ORIGIN
