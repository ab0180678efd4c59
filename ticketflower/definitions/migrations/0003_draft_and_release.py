"""Draft and published release replace "active": releases, published ticket types, role links.

Data, in order:
- who may submit a ticket type moves to `TicketTypeRole` rows (they carry the company);
- every workflow that was active is published as release #1, so what people could submit
  stays submittable;
- each workflow's draft version becomes its number of recorded revisions;
- titles that differ only in case get a suffix, before titles become unique per company.
"""

import hashlib
import json

import django.contrib.postgres.fields
import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

import ticketflower.tenancy.constraints

# Frozen copies of the bundle builder and fingerprint as they are at this migration.
TASK_FIELDS = (
    "key",
    "title",
    "description",
    "ext_ref",
    "input_schema",
    "output_schema",
    "edit_layout",
    "display_layout",
    "action_url",
    "input_transform",
    "output_transform",
    "timeout_seconds",
)


def bundle_of(workflow):
    tasks = list(workflow.tasks.order_by("pk"))
    keys = {task.pk: task.key for task in tasks}
    transitions = workflow.transitions.order_by(
        models.F("from_task").asc(nulls_first=True), "priority", "pk"
    )
    return {
        "format": "ticketflower-bundle/1",
        "workflow": {
            "title": workflow.title,
            "description": workflow.description,
            "ext_ref": workflow.ext_ref,
            "fields": workflow.fields,
            "display_layout": workflow.display_layout,
            "tasks": [{**{n: getattr(t, n) for n in TASK_FIELDS}, "type": t.task_type} for t in tasks],
            "transitions": [
                {
                    "from": keys.get(t.from_task_id) if t.from_task_id else None,
                    "to": keys[t.to_task_id],
                    "condition": t.condition,
                    "priority": t.priority,
                }
                for t in transitions
            ],
        },
        "ticket_types": [
            {
                "title": tt.title,
                "description": tt.description,
                "ext_ref": tt.ext_ref,
                "fields": tt.fields,
                "allowed_roles": sorted(role.name for role in tt.allowed_roles.all()),
                "edit_layout": tt.edit_layout,
                "display_layout": tt.display_layout,
            }
            for tt in workflow.ticket_types.order_by("title", "pk")
        ],
    }


def sha256(bundle):
    text = json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def copy_role_links(apps, schema_editor):
    TicketDefinition = apps.get_model("definitions", "TicketDefinition")
    TicketTypeRole = apps.get_model("definitions", "TicketTypeRole")
    TicketTypeRole.objects.bulk_create(
        TicketTypeRole(company_id=tt.company_id, ticket_type=tt, role=role)
        for tt in TicketDefinition.objects.prefetch_related("allowed_roles")
        for role in tt.allowed_roles.all()
        if role.company_id == tt.company_id
    )


def publish_active_workflows(apps, schema_editor):
    WorkflowDefinition = apps.get_model("definitions", "WorkflowDefinition")
    WorkflowRelease = apps.get_model("definitions", "WorkflowRelease")
    ReleaseTicketType = apps.get_model("definitions", "ReleaseTicketType")
    CompanyRole = apps.get_model("tenancy", "CompanyRole")
    for workflow in WorkflowDefinition.objects.filter(status="active"):
        bundle = bundle_of(workflow)
        bundle["ticket_types"] = [
            spec
            for spec, tt in zip(
                bundle["ticket_types"], workflow.ticket_types.order_by("title", "pk"), strict=True
            )
            if tt.status == "active"
        ]
        release = WorkflowRelease.objects.create(
            company_id=workflow.company_id,
            workflow=workflow,
            number=1,
            bundle=bundle,
            sha256=sha256(bundle),
            draft_version=workflow.version,
            published_by_id=workflow.created_by_id,
            note="Published when releases replaced “active”.",
        )
        roles = {r.name.lower(): r.pk for r in CompanyRole.objects.filter(company_id=workflow.company_id)}
        for position, spec in enumerate(bundle["ticket_types"]):
            ReleaseTicketType.objects.create(
                company_id=workflow.company_id,
                release=release,
                position=position,
                title=spec["title"],
                description=spec["description"],
                open_to_all=not spec["allowed_roles"],
                allowed_role_ids=[roles[n.lower()] for n in spec["allowed_roles"] if n.lower() in roles],
            )


def number_drafts(apps, schema_editor):
    """Draft version N is the N-th recorded revision of the workflow from now on."""
    WorkflowDefinition = apps.get_model("definitions", "WorkflowDefinition")
    Version = apps.get_model("reversion", "Version")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type = ContentType.objects.filter(app_label="definitions", model="workflowdefinition").first()
    if content_type is None:
        return
    for workflow in WorkflowDefinition.objects.all():
        recorded = Version.objects.filter(content_type=content_type, object_id=str(workflow.pk)).count()
        WorkflowDefinition.objects.filter(pk=workflow.pk).update(version=max(recorded, 1))


def unique_titles(apps, schema_editor):
    for name in ("WorkflowDefinition", "TicketDefinition"):
        model = apps.get_model("definitions", name)
        seen = set()
        for row in model.objects.order_by("company_id", "pk"):
            title, number = row.title, 2
            while (row.company_id, title.lower()) in seen:
                title, number = f"{row.title} ({number})", number + 1
            seen.add((row.company_id, title.lower()))
            if title != row.title:
                model.objects.filter(pk=row.pk).update(title=title[:255])


REFUSE_UPDATE = """
CREATE FUNCTION ticketflower_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % never change once written', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER definitions_workflowrelease_frozen BEFORE UPDATE ON definitions_workflowrelease
    FOR EACH ROW EXECUTE FUNCTION ticketflower_refuse_update();
CREATE TRIGGER definitions_releasetickettype_frozen BEFORE UPDATE ON definitions_releasetickettype
    FOR EACH ROW EXECUTE FUNCTION ticketflower_refuse_update();
"""
ALLOW_UPDATE = """
DROP TRIGGER definitions_releasetickettype_frozen ON definitions_releasetickettype;
DROP TRIGGER definitions_workflowrelease_frozen ON definitions_workflowrelease;
DROP FUNCTION ticketflower_refuse_update();
"""


# Rows written above would leave deferred checks pending, and PostgreSQL refuses to ALTER a
# table with pending trigger events in the same transaction: run the checks now.
CHECK_NOW = migrations.RunSQL("SET CONSTRAINTS ALL IMMEDIATE", migrations.RunSQL.noop)


def same_company(model_prefix, *fields):
    return [
        ticketflower.tenancy.constraints.SameCompany(field=f, name=f"{model_prefix}_{f}_same_company")
        for f in fields
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("definitions", "0002_alter_workflowtransition_options"),
        ("reversion", "0002_add_index_on_version_for_content_type_and_db"),
        ("tenancy", "0004_company_references"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # --- who may submit: role links that carry the company ---------------------------
        migrations.CreateModel(
            name="TicketTypeRole",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "company",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.company",
                        verbose_name="company",
                    ),
                ),
                (
                    "role",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ticket_type_links",
                        to="tenancy.companyrole",
                    ),
                ),
                (
                    "ticket_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="role_links",
                        to="definitions.ticketdefinition",
                    ),
                ),
            ],
            options={"verbose_name": "who may submit", "verbose_name_plural": "who may submit"},
        ),
        migrations.RunPython(copy_role_links, migrations.RunPython.noop),
        CHECK_NOW,
        # --- releases --------------------------------------------------------------------
        migrations.CreateModel(
            name="WorkflowRelease",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField(verbose_name="release")),
                ("bundle", models.JSONField(editable=False, verbose_name="bundle")),
                ("sha256", models.CharField(editable=False, max_length=64, verbose_name="SHA-256 of the bundle")),
                (
                    "draft_version",
                    models.PositiveIntegerField(
                        help_text="The draft version this release was published from.",
                        verbose_name="from draft version",
                    ),
                ),
                (
                    "withdrawn",
                    models.BooleanField(
                        default=False,
                        help_text="A withdrawal: no new tickets until the next release.",
                        verbose_name="withdrawn",
                    ),
                ),
                ("published_at", models.DateTimeField(auto_now_add=True, verbose_name="published")),
                ("note", models.TextField(blank=True, verbose_name="note")),
                (
                    "company",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.company",
                        verbose_name="company",
                    ),
                ),
                (
                    "draft_revision",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="reversion.revision",
                        verbose_name="draft revision",
                    ),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="published by",
                    ),
                ),
                (
                    "rolled_back_to",
                    models.ForeignKey(
                        blank=True,
                        help_text="Set when this release publishes an earlier release's bundle again.",
                        null=True,
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="+",
                        to="definitions.workflowrelease",
                        verbose_name="rolled back to",
                    ),
                ),
                (
                    "workflow",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="releases",
                        to="definitions.workflowdefinition",
                        verbose_name="workflow",
                    ),
                ),
            ],
            options={
                "verbose_name": "release",
                "verbose_name_plural": "releases",
                "ordering": ["workflow", "-number"],
            },
        ),
        migrations.CreateModel(
            name="ReleaseTicketType",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveIntegerField(verbose_name="position in the bundle")),
                ("title", models.CharField(max_length=255, verbose_name="title")),
                ("description", models.TextField(blank=True, verbose_name="description")),
                ("open_to_all", models.BooleanField(verbose_name="everybody may submit")),
                (
                    "allowed_role_ids",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(), blank=True, default=list, size=None
                    ),
                ),
                (
                    "company",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.company",
                        verbose_name="company",
                    ),
                ),
                (
                    "release",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="ticket_types",
                        to="definitions.workflowrelease",
                        verbose_name="release",
                    ),
                ),
            ],
            options={
                "verbose_name": "published ticket type",
                "verbose_name_plural": "published ticket types",
                "ordering": ["release", "position"],
            },
        ),
        migrations.RunPython(publish_active_workflows, migrations.RunPython.noop),
        migrations.RunPython(number_drafts, migrations.RunPython.noop),
        CHECK_NOW,
        # --- the draft: no status, one version per workflow --------------------------------
        migrations.RemoveField(model_name="workflowdefinition", name="status"),
        migrations.RemoveField(model_name="ticketdefinition", name="status"),
        migrations.RemoveField(model_name="taskdefinition", name="version"),
        migrations.RemoveField(model_name="ticketdefinition", name="version"),
        migrations.AlterField(
            model_name="workflowdefinition",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False, verbose_name="draft version"),
        ),
        migrations.AlterField(
            model_name="ticketdefinition",
            name="workflow",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="ticket_types",
                to="definitions.workflowdefinition",
                verbose_name="workflow",
            ),
        ),
        migrations.RemoveField(model_name="ticketdefinition", name="allowed_roles"),
        migrations.AddField(
            model_name="ticketdefinition",
            name="allowed_roles",
            field=models.ManyToManyField(
                blank=True,
                help_text="Company roles whose members may submit this ticket type. Empty: everybody.",
                related_name="ticket_types",
                through="definitions.TicketTypeRole",
                to="tenancy.companyrole",
                verbose_name="who may submit",
            ),
        ),
        # --- titles unique per company (uploads and imports match by title) ---------------
        migrations.RunPython(unique_titles, migrations.RunPython.noop),
        CHECK_NOW,
        migrations.RemoveIndex(model_name="workflowdefinition", name="definitions_company_2232a9_idx"),
        migrations.AddConstraint(
            model_name="workflowdefinition",
            constraint=models.UniqueConstraint(
                models.F("company"),
                django.db.models.functions.text.Lower("title"),
                name="definitions_workflow_unique_title",
                violation_error_message="Your company already has a workflow with this title.",
            ),
        ),
        migrations.AddConstraint(
            model_name="ticketdefinition",
            constraint=models.UniqueConstraint(
                models.F("company"),
                django.db.models.functions.text.Lower("title"),
                name="definitions_tickettype_unique_title",
                violation_error_message="Your company already has a ticket type with this title.",
            ),
        ),
        # --- references the database enforces --------------------------------------------
        migrations.AddConstraint(
            model_name="workflowdefinition",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="definitions_workflow_company_key"),
        ),
        migrations.AddConstraint(
            model_name="taskdefinition",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="definitions_task_company_key"),
        ),
        migrations.AddConstraint(
            model_name="taskdefinition",
            constraint=models.UniqueConstraint(fields=("workflow", "id"), name="definitions_task_workflow_key"),
        ),
        migrations.AddConstraint(
            model_name="ticketdefinition",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="definitions_tickettype_company_key"),
        ),
        migrations.AddConstraint(
            model_name="workflowrelease",
            constraint=models.UniqueConstraint(fields=("workflow", "number"), name="definitions_release_unique_number"),
        ),
        migrations.AddConstraint(
            model_name="workflowrelease",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="definitions_release_company_key"),
        ),
        migrations.AddConstraint(
            model_name="workflowrelease",
            constraint=models.UniqueConstraint(fields=("workflow", "id"), name="definitions_release_workflow_key"),
        ),
        migrations.AddConstraint(
            model_name="releasetickettype",
            constraint=models.UniqueConstraint(fields=("release", "position"), name="definitions_releasetickettype_unique"),
        ),
        migrations.AddConstraint(
            model_name="releasetickettype",
            constraint=models.UniqueConstraint(
                fields=("company", "id"), name="definitions_releasetickettype_company_key"
            ),
        ),
        migrations.AddConstraint(
            model_name="tickettyperole",
            constraint=models.UniqueConstraint(fields=("ticket_type", "role"), name="definitions_tickettyperole_unique"),
        ),
        *[
            migrations.AddConstraint(model_name=model, constraint=constraint)
            for model, constraints in [
                ("workflowdefinition", same_company("definitions_workflow", "created_by")),
                ("taskdefinition", same_company("definitions_task", "workflow", "created_by")),
                (
                    "workflowtransition",
                    same_company("definitions_transition", "workflow", "from_task", "to_task"),
                ),
                ("ticketdefinition", same_company("definitions_tickettype", "workflow", "created_by")),
                ("tickettyperole", same_company("definitions_tickettyperole", "ticket_type", "role")),
                (
                    "workflowrelease",
                    same_company("definitions_release", "workflow", "published_by", "rolled_back_to"),
                ),
                ("releasetickettype", same_company("definitions_releasetickettype", "release")),
            ]
            for constraint in constraints
        ],
        migrations.AddConstraint(
            model_name="workflowtransition",
            constraint=ticketflower.tenancy.constraints.SameCompany(
                field="from_task", name="definitions_transition_from_same_workflow", shared=("workflow",)
            ),
        ),
        migrations.AddConstraint(
            model_name="workflowtransition",
            constraint=ticketflower.tenancy.constraints.SameCompany(
                field="to_task", name="definitions_transition_to_same_workflow", shared=("workflow",)
            ),
        ),
        migrations.AddConstraint(
            model_name="workflowrelease",
            constraint=ticketflower.tenancy.constraints.SameCompany(
                field="rolled_back_to", name="definitions_release_rollback_same_workflow", shared=("workflow",)
            ),
        ),
        # --- a release never changes -------------------------------------------------------
        migrations.RunSQL(REFUSE_UPDATE, ALLOW_UPDATE),
    ]
