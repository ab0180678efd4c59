"""Runs point at the release they started from, tasks at their key within it, tickets at a published type.

Existing runs kept a snapshot of the definition they started with; each distinct snapshot of a
workflow becomes a release (reused when an identical one exists), so nothing running changes.
"""

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models

import ticketflower.tenancy.constraints


def sha256(bundle):
    text = json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def point_at_releases(apps, schema_editor):
    WorkflowInstance = apps.get_model("runtime", "WorkflowInstance")
    TaskInstance = apps.get_model("runtime", "TaskInstance")
    TicketInstance = apps.get_model("runtime", "TicketInstance")
    WorkflowRelease = apps.get_model("definitions", "WorkflowRelease")
    ReleaseTicketType = apps.get_model("definitions", "ReleaseTicketType")

    for run in WorkflowInstance.objects.select_related("workflow", "current_task").order_by("pk"):
        bundle = run.snapshot or {"format": "ticketflower-bundle/1", "workflow": {"tasks": []}, "ticket_types": []}
        digest = sha256(bundle)
        release = WorkflowRelease.objects.filter(workflow_id=run.workflow_id, sha256=digest).first()
        if release is None:
            last = WorkflowRelease.objects.filter(workflow_id=run.workflow_id).order_by("-number").first()
            release = WorkflowRelease.objects.create(
                company_id=run.company_id,
                workflow_id=run.workflow_id,
                number=(last.number if last else 0) + 1,
                bundle=bundle,
                sha256=digest,
                draft_version=run.workflow_version,
                note="Recorded from running tickets when releases were introduced.",
            )
        WorkflowInstance.objects.filter(pk=run.pk).update(
            release=release, current_task_key=run.current_task.key if run.current_task else ""
        )
        for task in TaskInstance.objects.filter(workflow_instance=run).select_related("task_definition"):
            TaskInstance.objects.filter(pk=task.pk).update(
                task_key=task.task_definition.key,
                title=task.task_definition.title,
                task_type=task.task_definition.task_type,
            )
        ticket = TicketInstance.objects.filter(workflow_instance=run).select_related("ticket_definition").first()
        if ticket is not None:
            published = _published_type(ReleaseTicketType, release, ticket.ticket_definition)
            TicketInstance.objects.filter(pk=ticket.pk).update(ticket_type=published)

    # A ticket without a run (none should exist) still needs a published type to point at.
    for ticket in TicketInstance.objects.filter(ticket_type__isnull=True).select_related("ticket_definition"):
        definition = ticket.ticket_definition
        release = WorkflowRelease.objects.filter(workflow_id=definition.workflow_id).order_by("-number").first()
        if release is None:
            release = WorkflowRelease.objects.create(
                company_id=ticket.company_id,
                workflow_id=definition.workflow_id,
                number=1,
                bundle={"format": "ticketflower-bundle/1", "workflow": {"tasks": []}, "ticket_types": []},
                sha256="",
                draft_version=1,
                note="Recorded for tickets without a run when releases were introduced.",
            )
        TicketInstance.objects.filter(pk=ticket.pk).update(
            ticket_type=_published_type(ReleaseTicketType, release, definition)
        )


def _published_type(ReleaseTicketType, release, definition):
    published = ReleaseTicketType.objects.filter(release=release, title__iexact=definition.title).first()
    if published is None:
        position = ReleaseTicketType.objects.filter(release=release).count()
        published = ReleaseTicketType.objects.create(
            company_id=release.company_id,
            release=release,
            position=position,
            title=definition.title,
            description=definition.description,
            open_to_all=False,  # it was never published: nobody may start new tickets of it
            allowed_role_ids=[],
        )
    return published


CHECK_NOW = migrations.RunSQL("SET CONSTRAINTS ALL IMMEDIATE", migrations.RunSQL.noop)


def same_company(model_prefix, *fields):
    return [
        ticketflower.tenancy.constraints.SameCompany(field=f, name=f"{model_prefix}_{f}_same_company")
        for f in fields
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("definitions", "0003_draft_and_release"),
        ("runtime", "0003_alter_taskinstance_options"),
    ]

    operations = [
        # The frozen-release trigger refuses UPDATE on releases; the rows above are only inserted.
        migrations.AddField(
            model_name="workflowinstance",
            name="release",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="runs",
                to="definitions.workflowrelease",
                verbose_name="release",
            ),
        ),
        migrations.AddField(
            model_name="workflowinstance",
            name="current_task_key",
            field=models.CharField(blank=True, max_length=64, verbose_name="current task"),
        ),
        migrations.AddField(
            model_name="taskinstance",
            name="task_key",
            field=models.CharField(default="", max_length=64, verbose_name="task key"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="taskinstance",
            name="title",
            field=models.CharField(default="", max_length=255, verbose_name="task"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="taskinstance",
            name="task_type",
            field=models.CharField(
                choices=[
                    ("FORM", "Form (a person fills it in)"),
                    ("SYNC_ACTION", "Sync action (call an HTTP endpoint)"),
                    ("ASYNC_ACTION", "Async action (call out, wait for a callback)"),
                ],
                default="FORM",
                max_length=16,
                verbose_name="type",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ticketinstance",
            name="ticket_type",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="tickets",
                to="definitions.releasetickettype",
                verbose_name="ticket type",
            ),
        ),
        CHECK_NOW,
        migrations.RunPython(point_at_releases, migrations.RunPython.noop),
        CHECK_NOW,
        migrations.RemoveField(model_name="taskinstance", name="task_definition"),
        migrations.RemoveField(model_name="ticketinstance", name="ticket_definition"),
        migrations.RemoveField(model_name="workflowinstance", name="current_task"),
        migrations.RemoveField(model_name="workflowinstance", name="snapshot"),
        migrations.RemoveField(model_name="workflowinstance", name="workflow"),
        migrations.RemoveField(model_name="workflowinstance", name="workflow_version"),
        migrations.AlterField(
            model_name="workflowinstance",
            name="release",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="runs",
                to="definitions.workflowrelease",
                verbose_name="release",
            ),
        ),
        migrations.AlterField(
            model_name="ticketinstance",
            name="ticket_type",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="tickets",
                to="definitions.releasetickettype",
                verbose_name="ticket type",
            ),
        ),
        migrations.AddConstraint(
            model_name="workflowinstance",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="runtime_workflowrun_company_key"),
        ),
        migrations.AddConstraint(
            model_name="taskinstance",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="runtime_task_company_key"),
        ),
        *[
            migrations.AddConstraint(model_name=model, constraint=constraint)
            for model, constraints in [
                ("workflowinstance", same_company("runtime_workflowrun", "release")),
                ("taskinstance", same_company("runtime_task", "workflow_instance", "assigned_to")),
                (
                    "ticketinstance",
                    same_company("runtime_ticket", "ticket_type", "workflow_instance", "created_by"),
                ),
                ("fileupload", same_company("runtime_file", "uploaded_by")),
            ]
            for constraint in constraints
        ],
    ]
