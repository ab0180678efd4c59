"""Who works on a form task: `assignment` (auto or pool) and an optional `worker_role`."""

import django.db.models.deletion
import ticketflower.tenancy.constraints
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('definitions', '0003_draft_and_release'),
        ('tenancy', '0004_company_references'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='taskdefinition',
            name='assignment',
            field=models.CharField(choices=[('auto', 'Auto'), ('pool', 'Pool')], default='auto', help_text='Form tasks: Auto gives the task to the eligible available task worker with the fewest open tasks; Pool lets the eligible task workers see it until one claims it.', max_length=8, verbose_name='assignment'),
        ),
        migrations.AddField(
            model_name='taskdefinition',
            name='worker_role',
            field=models.ForeignKey(blank=True, help_text='Form tasks: only task workers holding this company role may do it. Empty: every one.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='worker_tasks', to='tenancy.companyrole', verbose_name='worker role'),
        ),
        migrations.AddConstraint(
            model_name='taskdefinition',
            constraint=ticketflower.tenancy.constraints.SameCompany(field='worker_role', name='definitions_task_worker_role_same_company'),
        ),
    ]
