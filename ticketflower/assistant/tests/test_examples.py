"""The five examples of docs/assistant.md: proposed, gated, saved, published, and run to the end.

Each outline goes through the outline generator and the gate, is saved and published as the
company admin, and one ticket runs through it: people complete their tasks (the answers below
steer the branches worth seeing), a real job worker calls a real loopback endpoint for the
actions, and an ASYNC action gets its callback.
"""

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from conftest import Tenant, make_tenant
from tests.live_parts import Endpoint, Reply, job_worker, wait_until
from ticketflower.assistant import services
from ticketflower.assistant.gate import gate
from ticketflower.assistant.generators.base import ChatMessage, ProposalRequest
from ticketflower.assistant.generators.outline import OutlineGenerator
from ticketflower.definitions.fields import sample_value
from ticketflower.runtime import services as runtime
from ticketflower.runtime.models import TaskInstance, TaskStatus, TicketInstance, WorkflowStatus
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole, CompanyRoleMembership

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(settings.BASE_DIR) / "docs" / "assistant.md"


def examples() -> dict[str, str]:
    text = DOC.read_text()
    titles = re.findall(r"^### \d\. (.+)$", text, re.M)
    outlines = re.findall(r"```outline\n(.*?)```", text, re.S)
    return dict(zip(titles, outlines, strict=True))


# What people answer (and the actions' endpoint says) where it matters, and the tasks the
# ticket passes through, in order.
RUNS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "A laundry service": (
        {"damaged_items": True},
        [
            "driver_picks_up_the_laundry",
            "washer_washes_it",
            "manager_calls_the_customer",
            "driver_delivers_the_laundry",
        ],
    ),
    "Equipment requests with an approval and an order": (
        {"approved": True, "amount_eur": 1500.0, "order_number": "PO-7"},
        ["manager_approves", "finance_checks_the_budget", "place_the_order", "it_prepares_the_equipment"],
    ),
    "Bug reports with a fix-and-test loop": (
        {"can_reproduced": True, "severity": "High", "fixed": True},
        [
            "support_checks_the_report",
            "page_the_on_call_developer",
            "developer_fixes_the_bug",
            "tester_tests_the_fix",
            "closed",
        ],
    ),
    "Holiday requests with the HR and payroll systems": (
        {"approved": True, "booking_reference": "HR-1"},
        ["team_lead_approves", "book_the_days_in_the_hr_system", "wait_for_payroll_to_confirm"],
    ),
    "Customer complaints": (
        {"refund_wanted": True, "order_value_eur": 80.0, "approved": True, "refund_id": "R-1"},
        [
            "customer_service_checks_the_order",
            "manager_approves_the_refund",
            "pay_the_refund",
            "customer_service_replies_to_the_customer",
        ],
    ),
}


def test_the_documentation_has_the_five_examples() -> None:
    assert list(examples()) == list(RUNS)


@pytest.mark.parametrize("title", list(RUNS))
def test_a_documented_example_publishes_and_runs_to_the_end(title: str) -> None:
    tenant = make_tenant("Alpha Florists")
    answers, path = RUNS[title]
    proposal = OutlineGenerator().propose(ProposalRequest(messages=[ChatMessage("user", examples()[title])]))
    assert proposal.questions == []
    assert gate(proposal.bundle, roles=[]).problems == []

    with Endpoint(Reply(200, answers)) as endpoint, job_worker():
        bundle = point_actions_at(proposal.bundle, endpoint.url)
        conversation = services.conversation_start(actor=tenant.admin, title=title)
        saved = services.proposal_save(
            actor=tenant.admin, conversation=conversation, bundle=bundle, publish=True
        )
        assert saved.ok, saved.problems
        assert saved.release is not None
        everyone_holds_every_role(tenant)
        with company_context(tenant.company):
            ticket_type = saved.release.ticket_types.get()
        ticket = runtime.ticket_submit(
            ticket_type=ticket_type, submitted_by=tenant.member, data=submission(bundle, answers)
        )
        walked = run_to_the_end(tenant, ticket, bundle, answers, endpoint)

    assert walked == path


def point_actions_at(bundle: dict[str, Any], url: str) -> dict[str, Any]:
    tasks = [{**t, "action_url": url} if t["type"] != "FORM" else t for t in bundle["workflow"]["tasks"]]
    return {**bundle, "workflow": {**bundle["workflow"], "tasks": tasks}}


def everyone_holds_every_role(tenant: Tenant) -> None:
    with company_context(tenant.company):
        for role in CompanyRole.objects.all():
            for user in (tenant.worker, tenant.member):
                CompanyRoleMembership.objects.get_or_create(company=tenant.company, user=user, role=role)


def value(field: dict[str, Any], answers: dict[str, Any]) -> Any:
    return answers.get(field["name"], sample_value(field))


def submission(bundle: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    fields = {f["name"]: f for f in bundle["workflow"]["fields"]}
    asked = [e["field"] for e in bundle["ticket_types"][0]["fields"]]
    return {name: value(fields[name], answers) for name in asked if fields[name]["type"] != "file"}


def run_to_the_end(
    tenant: Tenant,
    ticket: TicketInstance,
    bundle: dict[str, Any],
    answers: dict[str, Any],
    endpoint: Endpoint,
) -> list[str]:
    fields = {f["name"]: f for f in bundle["workflow"]["fields"]}
    walked: list[str] = []
    for _ in range(20):
        task = wait_until(lambda: open_task(ticket) or finished(ticket), what="the next task or the end")
        if task is True:
            return walked
        assert isinstance(task, TaskInstance)
        walked.append(task.task_key)
        spec = next(t for t in bundle["workflow"]["tasks"] if t["key"] == task.task_key)
        if task.task_type == "FORM":
            output = {
                name: value(fields[name], answers)
                for name in spec["output_schema"].get("properties") or {}
                if fields[name]["type"] != "file"
            }
            with company_context(tenant.company):
                worker = task.assigned_to or tenant.worker
            if task.assigned_to_id is None:
                runtime.task_claim(worker=worker, task=task)  # a pool task: whoever is free takes it
            runtime.task_complete(worker=worker, task=task, output=output)
        elif task.task_type == "ASYNC_ACTION":
            wait_until(functools.partial(has_deadline, task), what="the call to be sent")
            token = endpoint.received[-1].json()["callback_url"].rstrip("/").rsplit("/", 1)[1]
            assert runtime.callback_receive(token=token, body={}).status == 200
        wait_until(functools.partial(is_completed, task), what=f"{task.task_key} to complete")
    raise AssertionError(f"The run did not end: {walked}")


def open_task(ticket: TicketInstance) -> TaskInstance | None:
    with company_context(ticket.company):
        task: TaskInstance | None = (
            TaskInstance.objects.filter(workflow_instance=ticket.workflow_instance_id)
            .exclude(status__in=[TaskStatus.COMPLETED, TaskStatus.CANCELLED])
            .order_by("-pk")
            .first()
        )
        if task is not None:
            assert task.status != TaskStatus.ERROR, task.error
        return task


def finished(ticket: TicketInstance) -> bool:
    with company_context(ticket.company):
        ticket.workflow_instance.refresh_from_db()  # type: ignore[union-attr]
        status = ticket.workflow_instance.status  # type: ignore[union-attr]
    assert status != WorkflowStatus.ERROR, "The run stopped in ERROR"
    return status == WorkflowStatus.COMPLETED


def has_deadline(task: TaskInstance) -> bool:
    return reload(task).deadline_at is not None


def is_completed(task: TaskInstance) -> bool:
    return reload(task).status == TaskStatus.COMPLETED


def reload(task: TaskInstance) -> TaskInstance:
    with company_context(task.company):
        task.refresh_from_db()
    return task
