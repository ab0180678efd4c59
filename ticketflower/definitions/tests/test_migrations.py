"""The move to draft and release keeps what an existing database had: active stays offered, runs keep going."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("accounts", "0002_initial"),
    ("tenancy", "0003_company_restrict_definitions"),
    ("definitions", "0002_alter_workflowtransition_options"),
    ("runtime", "0003_alter_taskinstance_options"),
]
AFTER = [("definitions", "0003_draft_and_release"), ("runtime", "0004_runs_point_at_releases")]


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def old_data(apps: Any) -> dict[str, Any]:
    """A company as the landed code left it: an active workflow with a running ticket, a draft one."""
    Company = apps.get_model("tenancy", "Company")
    User = apps.get_model("accounts", "User")
    CompanyRole = apps.get_model("tenancy", "CompanyRole")
    Workflow = apps.get_model("definitions", "WorkflowDefinition")
    Task = apps.get_model("definitions", "TaskDefinition")
    Transition = apps.get_model("definitions", "WorkflowTransition")
    TicketType = apps.get_model("definitions", "TicketDefinition")
    Run = apps.get_model("runtime", "WorkflowInstance")
    TaskRun = apps.get_model("runtime", "TaskInstance")
    Ticket = apps.get_model("runtime", "TicketInstance")

    company = Company.objects.create(name="Old Co")
    user = User.objects.create(email="old@old.test", company=company, password="!")
    staff = CompanyRole.objects.create(company=company, name="Staff")
    active = Workflow.objects.create(
        company=company, title="Repairs", status="active", version=4, created_by=user
    )
    check = Task.objects.create(
        company=company, workflow=active, key="check", title="Check it", task_type="FORM"
    )
    fix = Task.objects.create(company=company, workflow=active, key="fix", title="Fix it", task_type="FORM")
    Transition.objects.create(company=company, workflow=active, from_task=None, to_task=check)
    Transition.objects.create(
        company=company, workflow=active, from_task=check, to_task=fix, condition="true"
    )
    offered = TicketType.objects.create(company=company, workflow=active, title="Repair", status="active")
    TicketType.allowed_roles.through.objects.create(ticketdefinition=offered, companyrole=staff)
    TicketType.objects.create(company=company, workflow=active, title="repair", status="draft")  # a case twin
    Workflow.objects.create(company=company, title="Ideas", status="draft")
    snapshot = {"format": "ticketflower-bundle/1", "workflow": {"title": "Repairs (as it ran)", "tasks": []}}
    run = Run.objects.create(
        company=company, workflow=active, workflow_version=3, snapshot=snapshot, current_task=check
    )
    TaskRun.objects.create(company=company, workflow_instance=run, task_definition=check, status="OPEN")
    Ticket.objects.create(company=company, ticket_definition=offered, workflow_instance=run, created_by=user)
    return {"staff": staff.pk}


@pytest.fixture
def old_schema() -> Iterator[Any]:
    """The database as the landed code had it; the latest schema again afterwards."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        yield migrate(BEFORE)
    finally:
        migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_active_workflows_are_published_and_running_tickets_keep_their_definition(old_schema: Any) -> None:
    ids = old_data(old_schema)
    apps = migrate(AFTER)
    Release = apps.get_model("definitions", "WorkflowRelease")
    Workflow = apps.get_model("definitions", "WorkflowDefinition")
    Ticket = apps.get_model("runtime", "TicketInstance")
    TaskRun = apps.get_model("runtime", "TaskInstance")

    published = Release.objects.get(workflow__title="Repairs", number=1)
    assert [t["title"] for t in published.bundle["ticket_types"]] == ["Repair"]  # only what was active
    offered = published.ticket_types.get()
    assert (offered.title, offered.open_to_all, offered.allowed_role_ids) == ("Repair", False, [ids["staff"]])
    assert not Release.objects.filter(workflow__title="Ideas").exists()  # a draft stays a draft
    assert sorted(Workflow.objects.values_list("title", flat=True)) == ["Ideas", "Repairs"]

    # The running ticket's snapshot differs from the draft: it became a release of its own.
    ticket = Ticket.objects.select_related("workflow_instance__release", "ticket_type").get()
    run = ticket.workflow_instance
    assert run.release.number == 2 and run.release.bundle["workflow"]["title"] == "Repairs (as it ran)"
    assert (run.release.draft_version, run.current_task_key) == (3, "check")
    assert ticket.ticket_type.title == "Repair" and not ticket.ticket_type.open_to_all
    assert list(TaskRun.objects.values_list("task_key", "title", "task_type")) == [
        ("check", "Check it", "FORM")
    ]
    # Titles became unique per company, whatever their case.
    titles = sorted(apps.get_model("definitions", "TicketDefinition").objects.values_list("title", flat=True))
    assert titles == ["Repair", "repair (2)"]
    links = apps.get_model("definitions", "TicketTypeRole").objects.values_list(
        "ticket_type__title", "role_id"
    )
    assert list(links) == [("Repair", ids["staff"])]


ENGINE = [("runtime", "0005_engine")]


@pytest.mark.django_db(transaction=True)
def test_running_tasks_get_the_engines_columns_each_its_own_idempotency_key(old_schema: Any) -> None:
    old_data(old_schema)
    apps = migrate(AFTER)
    TaskRun = apps.get_model("runtime", "TaskInstance")
    run = TaskRun.objects.get().workflow_instance
    user = apps.get_model("accounts", "User").objects.get()
    TaskRun.objects.create(
        company_id=run.company_id, workflow_instance=run, task_key="fix", title="Fix it", assigned_to=user
    )
    # Rows in the table, deferred checks queued by the migration's updates: it must still apply.
    apps = migrate(ENGINE)
    keys = list(apps.get_model("runtime", "TaskInstance").objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 2 and len(set(keys)) == 2
