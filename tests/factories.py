"""Test data, in one place. Rows are made the way the app makes them: inside a company context."""

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ticketflower.accounts.models import User
from ticketflower.definitions.bundles import bundle_parse, workflow_bundle
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.definitions.services import bundle_import
from ticketflower.runtime.models import TaskInstance, TicketInstance, WorkflowInstance
from ticketflower.runtime.services import task_assign
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


BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"


def load_bundle(name: str) -> dict[str, Any]:
    return bundle_parse((BUNDLES / name).read_text(), filename=name)


def make_workflow(designer: User, bundle_name: str = "it-equipment-request.yaml") -> WorkflowDefinition:
    """A workflow with tasks, transitions, a ticket type and a revision, made as a designer would."""
    result = bundle_import(actor=designer, bundle=load_bundle(bundle_name))
    assert result.workflow is not None, result.problems
    return result.workflow


def make_ticket(
    submitter: User, workflow: WorkflowDefinition, *, worker: User | None = None
) -> TicketInstance:
    """A submitted ticket whose workflow waits at its first task (the engine will do this later)."""
    with company_context(workflow.company):
        first = workflow.tasks.order_by("pk").first()
        run = WorkflowInstance.objects.create(
            workflow=workflow,
            workflow_version=workflow.version,
            snapshot=workflow_bundle(workflow),
            current_task=first,
            data={"item": "Laptop"},
        )
        task = TaskInstance.objects.create(
            workflow_instance=run, task_definition=first, status="OPEN", input_data={"item": "Laptop"}
        )
        task_assign(task=task, worker=worker)
        ticket_type = workflow.ticket_types.first()
        ticket: TicketInstance = TicketInstance.objects.create(
            ticket_definition=ticket_type,
            workflow_instance=run,
            data={"item": "Laptop"},
            created_by=submitter,
        )
        return ticket
