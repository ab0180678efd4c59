"""The engine's columns, the append-only ticket history, and `assigned_to` as the only owner of a task.

The per-task guardian permission is dropped: who works on a task is its `assigned_to`.
"""

import django.db.models.deletion
import ticketflower.tenancy.constraints
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('definitions', '0003_draft_and_release'),
        ('runtime', '0004_runs_point_at_releases'),
        ('tenancy', '0004_company_references'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('guardian', '0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more'),
    ]

    operations = [
        migrations.CreateModel(
            name='TicketEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('submitted', 'Submitted'), ('task_created', 'Task created'), ('assigned', 'Assigned'), ('waiting', 'Waiting for a worker'), ('claimed', 'Claimed'), ('released', 'Released to the pool'), ('started', 'Started'), ('saved', 'Saved'), ('attempt', 'Action attempt'), ('callback', 'Callback'), ('task_completed', 'Task completed'), ('error', 'Error'), ('retried', 'Retried'), ('skipped', 'Skipped'), ('held', 'Put on hold'), ('resumed', 'Resumed'), ('cancelled', 'Cancelled'), ('completed', 'Completed')], max_length=16, verbose_name='what')),
                ('actor_label', models.CharField(blank=True, max_length=64, verbose_name='by')),
                ('message', models.TextField(blank=True, verbose_name='details')),
                ('details', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='when')),
            ],
            options={
                'verbose_name': 'ticket event',
                'verbose_name_plural': 'ticket history',
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.AlterModelOptions(
            name='taskinstance',
            options={'ordering': ['-created_at'], 'verbose_name': 'task', 'verbose_name_plural': 'tasks'},
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='assigned_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='assigned'),
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='assignment',
            field=models.CharField(choices=[('auto', 'Automatic (shortest queue)'), ('pool', 'Pool (a worker claims it)')], default='auto', max_length=8, verbose_name='assignment'),
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='attempts',
            field=models.PositiveIntegerField(default=0, verbose_name='attempts'),
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='callback_token_hash',
            field=models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='deadline_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='callback deadline'),
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='error',
            field=models.TextField(blank=True, verbose_name='error'),
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='idempotency_key',
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.AddField(
            model_name='taskinstance',
            name='worker_role',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tenancy.companyrole', verbose_name='worker role'),
        ),
        migrations.AddField(
            model_name='workflowinstance',
            name='error',
            field=models.TextField(blank=True, verbose_name='error'),
        ),
        migrations.AlterField(
            model_name='workflowinstance',
            name='status',
            field=models.CharField(choices=[('NOT_STARTED', 'Not started'), ('IN_PROGRESS', 'In progress'), ('COMPLETED', 'Completed'), ('CANCELLED', 'Cancelled'), ('ON_HOLD', 'On hold'), ('ERROR', 'Needs attention')], default='IN_PROGRESS', max_length=16, verbose_name='status'),
        ),
        migrations.AddIndex(
            model_name='taskinstance',
            index=models.Index(fields=['assigned_to', 'assigned_at'], name='runtime_tas_assigne_00fc8c_idx'),
        ),
        migrations.AddIndex(
            model_name='taskinstance',
            index=models.Index(condition=models.Q(('assigned_to__isnull', True), ('status', 'PENDING'), ('task_type', 'FORM')), fields=['company', 'created_at'], name='runtime_task_waiting'),
        ),
        migrations.AddConstraint(
            model_name='taskinstance',
            constraint=ticketflower.tenancy.constraints.SameCompany(field='worker_role', name='runtime_task_worker_role_same_company'),
        ),
        migrations.AddConstraint(
            model_name='ticketinstance',
            constraint=models.UniqueConstraint(fields=('company', 'id'), name='runtime_ticket_company_key'),
        ),
        migrations.AddField(
            model_name='ticketevent',
            name='actor',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='by'),
        ),
        migrations.AddField(
            model_name='ticketevent',
            name='company',
            field=models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.company', verbose_name='company'),
        ),
        migrations.AddField(
            model_name='ticketevent',
            name='task',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='runtime.taskinstance', verbose_name='task'),
        ),
        migrations.AddField(
            model_name='ticketevent',
            name='ticket',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='runtime.ticketinstance', verbose_name='ticket'),
        ),
        migrations.AddIndex(
            model_name='ticketevent',
            index=models.Index(fields=['ticket', 'created_at'], name='runtime_tic_ticket__5b3d04_idx'),
        ),
        migrations.AddConstraint(
            model_name='ticketevent',
            constraint=ticketflower.tenancy.constraints.SameCompany(field='ticket', name='runtime_ticketevent_ticket_same_company'),
        ),
        migrations.AddConstraint(
            model_name='ticketevent',
            constraint=ticketflower.tenancy.constraints.SameCompany(field='task', name='runtime_ticketevent_task_same_company'),
        ),
        migrations.AddConstraint(
            model_name='ticketevent',
            constraint=ticketflower.tenancy.constraints.SameCompany(field='actor', name='runtime_ticketevent_actor_same_company'),
        ),
        migrations.RunSQL(
            # AddField gave every existing task the same key: give each its own.
            "UPDATE runtime_taskinstance SET idempotency_key = gen_random_uuid();"
            "UPDATE runtime_taskinstance SET assigned_at = created_at WHERE assigned_to_id IS NOT NULL;",
            migrations.RunSQL.noop,
        ),
        # The updates queue deferred same-company checks, and PostgreSQL refuses the indexes
        # Django creates at the end of this migration while they are pending: run them now.
        migrations.RunSQL("SET CONSTRAINTS ALL IMMEDIATE", migrations.RunSQL.noop),
        migrations.RunSQL(
            "CREATE TRIGGER runtime_ticketevent_append_only BEFORE UPDATE ON runtime_ticketevent"
            " FOR EACH ROW EXECUTE FUNCTION ticketflower_refuse_update();",
            "DROP TRIGGER runtime_ticketevent_append_only ON runtime_ticketevent;",
        ),
        migrations.RunSQL(
            """
            DELETE FROM guardian_userobjectpermission WHERE permission_id IN (
                SELECT p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
                WHERE c.app_label = 'runtime' AND p.codename = 'work_on_task');
            DELETE FROM guardian_groupobjectpermission WHERE permission_id IN (
                SELECT p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
                WHERE c.app_label = 'runtime' AND p.codename = 'work_on_task');
            """,
            migrations.RunSQL.noop,
        ),
    ]
