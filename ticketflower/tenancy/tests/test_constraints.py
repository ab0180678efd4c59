"""Cross-company references are impossible in the database, not just unlikely in Python."""

import json
from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import isolate_apps
from django.urls import reverse
from django.utils import timezone
from psycopg import sql
from reversion.models import Revision, Version

from conftest import Tenant
from tests.factories import load_bundle, make_release, make_ticket, make_workflow
from ticketflower.accounts.services import api_token_create
from ticketflower.assistant.models import AssistantRevision, Conversation, Document, Message
from ticketflower.codetasks.models import CodeTrial
from ticketflower.definitions import services
from ticketflower.definitions.models import TaskDefinition, WorkflowTransition
from ticketflower.files.models import FileAttachment, FileUpload
from ticketflower.runtime.models import WorkflowInstance
from ticketflower.tenancy.checks import company_reference_errors
from ticketflower.tenancy.constraints import SameCompany, company_foreign_keys, same_company
from ticketflower.tenancy.context import CrossCompanyWrite, company_context
from ticketflower.tenancy.models import CompanyOwnedModel, CompanyRevision, CompanyRole

pytestmark = pytest.mark.django_db


def company_references() -> list[tuple[type[models.Model], Any]]:
    return [(model, field) for model in apps.get_models() for field in company_foreign_keys(model)]


def constraints_in_database(table: str) -> dict[str, tuple[list[str], str, list[str]]]:
    """The table's foreign keys as PostgreSQL has them: name -> (columns, target table, target columns)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conname,
                   ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
                   c.confrelid::regclass::text,
                   ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
            FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = %s::regclass
            """,
            [table],
        )
        return {
            name: (list(cols), target, list(target_cols))
            for name, cols, target, target_cols in cursor.fetchall()
        }


def test_every_company_foreign_key_is_a_composite_foreign_key_in_postgresql() -> None:
    references = company_references()
    assert len(references) >= 20  # the walk really found the models
    missing = []
    for model, field in references:
        target = field.related_model
        wanted = (["company_id", field.column], target._meta.db_table, ["company_id", target._meta.pk.column])
        if wanted not in constraints_in_database(model._meta.db_table).values():
            missing.append(f"{model._meta.label}.{field.name}")
    assert missing == []


def test_the_system_check_fails_for_a_company_foreign_key_without_its_constraint() -> None:
    assert company_reference_errors(apps.get_models()) == []
    with isolate_apps("ticketflower.tenancy"):

        class Covered(CompanyOwnedModel):
            role = models.ForeignKey(CompanyRole, on_delete=models.CASCADE)

            class Meta:
                app_label = "tenancy"
                constraints = [*same_company("tenancy_covered", "role")]

        class Forgotten(CompanyOwnedModel):
            role = models.ForeignKey(CompanyRole, on_delete=models.CASCADE)

            class Meta:
                app_label = "tenancy"

        class LinkedWithoutCompany(CompanyOwnedModel):
            roles = models.ManyToManyField(CompanyRole)

            class Meta:
                app_label = "tenancy"

        errors = company_reference_errors([Covered, Forgotten, LinkedWithoutCompany])
    assert [(e.id, e.obj) for e in errors] == [
        ("tenancy.E001", Forgotten),
        ("tenancy.E004", LinkedWithoutCompany),
    ]


@pytest.fixture
def both(tenant_a: Tenant, tenant_b: Tenant) -> tuple[Tenant, Tenant]:
    """Each company with a row of every company-owned model that has references."""
    for tenant in (tenant_a, tenant_b):
        # Its roles become the tenant's: a TicketTypeRole and a task's worker role.
        bundle = load_bundle("purchase-order.yaml", role=tenant.role.name)
        if tenant is tenant_a:  # a second published type, at a position B's releases leave free
            bundle["ticket_types"].append({"title": "Rush purchase"})
        workflow = services.bundle_import(actor=tenant.designer, bundle=bundle).workflow
        assert workflow is not None
        first = make_release(tenant.designer, workflow)
        with company_context(tenant.company):
            workflow.tasks.filter(key="rejected").update(title="Say no kindly")
        services.bundle_import(actor=tenant.designer, bundle=bundle, into=workflow)
        services.release_rollback(actor=tenant.designer, release=first)
        order = {"supplier": "Acme", "item": "Desk", "quantity": 1, "unit_price": 90.0}
        ticket = make_ticket(tenant.member, workflow, worker=tenant.worker, data=order)
        api_token_create(user=tenant.member, name="script")
        with company_context(tenant.company):
            upload = FileUpload.objects.create(filename="quote.pdf", ext_key="k", uploaded_by=tenant.member)
            FileAttachment.objects.create(file=upload, ticket=ticket)
            # A draft task no transition points at: rows referencing a task answer first otherwise.
            TaskDefinition.objects.create(workflow=workflow, key="orphan", title="Orphan")
            # A conversation with the assistant: a message, its document, a revision it wrote.
            conversation = Conversation.objects.create(
                title="Talk", workflow=workflow, created_by=tenant.designer
            )
            said = Message.objects.create(
                conversation=conversation, role="user", text="hi", created_by=tenant.designer
            )
            Document.objects.create(
                conversation=conversation, message=said, file=upload, name="a.md", text="hi"
            )
            revision = Version.objects.get_for_object(workflow).first()
            assert revision is not None
            AssistantRevision.objects.create(revision=revision.revision, conversation=conversation)
            # A designer's try of the code task.
            code_task = workflow.tasks.get(task_type="CODE")
            CodeTrial.objects.create(task=code_task, source=code_task.code, created_by=tenant.designer)
    # Targets that clash with no unique key of A's rows, so only the company can refuse:
    # tasks with other keys, and a run without a ticket.
    complaint = make_workflow(tenant_b.designer, "customer-complaint.yaml")
    with company_context(tenant_b.company):
        WorkflowInstance.objects.create(release=make_release(tenant_b.designer, complaint))
    return tenant_a, tenant_b


def refusal(table: str, column: str, value: int, row: int) -> IntegrityError:
    """What PostgreSQL says to `UPDATE table SET column = value WHERE id = row`, checked at once."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table))
        )  # releases
        update = sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(
            sql.Identifier(table), sql.Identifier(column)
        )
        cursor.execute(update, [value, row])
    return caught.value


def test_raw_sql_pointing_a_row_at_another_companys_row_is_refused(both: tuple[Tenant, Tenant]) -> None:
    tenant_a, tenant_b = both
    refused = []
    for model, field in company_references():
        rows = list(model._base_manager.filter(company=tenant_a.company).order_by("-pk")[:10])
        targets = list(
            field.related_model._base_manager.filter(company=tenant_b.company).order_by("-pk")[:10]
        )
        assert rows and targets, f"no rows to try {model._meta.label}.{field.name}"
        names = {
            c.name for c in model._meta.constraints if isinstance(c, SameCompany) and c.field == field.name
        }
        errors = []
        # Another constraint (a unique key, a row pointing at this one) may answer first for
        # one pair; the company constraint must answer for some pair, and nothing may pass.
        for row in rows:
            for target in targets:
                errors.append(str(refusal(model._meta.db_table, field.column, target.pk, row.pk)))
                if any(name in errors[-1] for name in names):
                    break
            else:
                continue
            break
        assert any(name in errors[-1] for name in names), f"{model._meta.label}.{field.name}: {errors[-1]}"
        refused.append(f"{model._meta.label}.{field.name}")
    assert len(refused) == len(company_references())


def test_update_refuses_a_foreign_key_of_another_company(tenant_a: Tenant, tenant_b: Tenant) -> None:
    mine, theirs = make_workflow(tenant_a.designer), make_workflow(tenant_b.designer)
    with company_context(tenant_a.company):
        transitions = WorkflowTransition.objects.filter(workflow=mine)
        with pytest.raises(CrossCompanyWrite, match=r"workflow_id at a definitions\.WorkflowDefinition"):
            transitions.update(workflow_id=theirs.pk)
        with pytest.raises(CrossCompanyWrite):
            transitions.update(workflow=theirs)
        their_task = TaskDefinition.unscoped.filter(workflow=theirs).first()
        with pytest.raises(CrossCompanyWrite):
            transitions.update(to_task=their_task)
        # An expression cannot be checked in Python: the database refuses it.
        with pytest.raises(IntegrityError, match="same_company"), transaction.atomic():
            connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")  # as at commit
            transitions.update(workflow_id=F("workflow_id") + (theirs.pk - mine.pk))
        assert transitions.count() == 3


def test_a_revision_holding_another_companys_row_is_never_reverted(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Reverts write raw rows past the guards: safe only because ownership is checked first."""
    mine, theirs = make_workflow(tenant_a.designer), make_workflow(tenant_b.designer)
    their_version = Version.objects.get_for_object(theirs).get()
    # A revision tied to A that somehow recorded B's workflow (with A's id, to look harmless).
    forged = Revision.objects.create(comment="forged", date_created=timezone.now())
    with company_context(tenant_a.company):
        CompanyRevision.objects.create(revision=forged)
    data = json.loads(their_version.serialized_data)
    data[0]["pk"] = mine.pk
    version = Version.objects.create(
        revision=forged,
        object_id=str(mine.pk),
        content_type=their_version.content_type,
        db="default",
        format="json",
        serialized_data=json.dumps(data),
        object_repr="forged",
    )
    client.force_login(tenant_a.designer)
    url = reverse("design:definitions_workflowdefinition_revision", args=[mine.pk, version.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"title": "Hijacked"}).status_code == 404
    with company_context(tenant_a.company):
        mine.refresh_from_db()
    assert mine.company_id == tenant_a.company.pk and mine.title == "IT equipment request"
