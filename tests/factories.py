"""Test data, in one place. Rows are made the way the app makes them: inside a company context."""

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.utils import timezone

from ticketflower.accounts.models import User
from ticketflower.accounts.services import api_token_create
from ticketflower.definitions.bundles import bundle_parse
from ticketflower.definitions.models import WorkflowDefinition, WorkflowRelease
from ticketflower.definitions.selectors import current_release
from ticketflower.definitions.services import bundle_import, workflow_publish
from ticketflower.runtime.models import TaskInstance, TicketInstance
from ticketflower.runtime.services import ticket_submit
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


def load_bundle(name: str, *, role: str | None = None) -> dict[str, Any]:
    """A sample bundle; with `role`, every company role it names (who submits, who works) is that one."""
    bundle = bundle_parse((BUNDLES / name).read_text(), filename=name)
    if role is not None:
        for task in bundle["workflow"]["tasks"]:
            if task.get("worker_role"):
                task["worker_role"] = role
        for ticket_type in bundle.get("ticket_types") or []:
            if ticket_type.get("allowed_roles"):
                ticket_type["allowed_roles"] = [role]
    return bundle


def make_workflow(designer: User, bundle_name: str = "it-equipment-request.yaml") -> WorkflowDefinition:
    """A workflow draft with tasks, transitions, a ticket type and a revision, made as a designer would."""
    result = bundle_import(actor=designer, bundle=load_bundle(bundle_name))
    assert result.workflow is not None, result.problems
    return result.workflow


def make_release(designer: User, workflow: WorkflowDefinition) -> WorkflowRelease:
    """Publish the workflow's draft as a designer would."""
    result = workflow_publish(actor=designer, workflow=workflow)
    assert result.release is not None, result.problems
    return result.release


def make_ticket(
    submitter: User,
    workflow: WorkflowDefinition,
    *,
    worker: User | None = None,
    data: dict[str, Any] | None = None,
) -> TicketInstance:
    """A ticket submitted through the engine, its run waiting at its first task.

    Publishes the draft first if the workflow has no release yet. With `worker`, the first
    task is handed to that worker (whatever the automatic assignment chose).
    """
    data = {"item": "Laptop", "reason": "Mine broke"} if data is None else data
    with company_context(workflow.company):
        release = current_release(workflow) or make_release(workflow.created_by or submitter, workflow)
        ticket_type = release.ticket_types.order_by("position").first()
        assert ticket_type is not None
    ticket = ticket_submit(ticket_type=ticket_type, submitted_by=submitter, data=data)
    if worker is not None:
        with company_context(workflow.company):
            TaskInstance.objects.filter(workflow_instance=ticket.workflow_instance_id).update(
                assigned_to=worker, status="OPEN", assigned_at=timezone.now()
            )
    return ticket


def make_api_token(user: User, name: str = "script") -> str:
    """A personal API token of `user`, made as the profile page makes it; returns the secret."""
    _, secret = api_token_create(user=user, name=name)
    return secret


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header for Django's test client: `client.get(url, headers=bearer(secret))`."""
    return {"Authorization": f"Bearer {secret}"}
