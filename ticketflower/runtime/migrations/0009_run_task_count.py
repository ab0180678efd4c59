from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("runtime", "0008_worker_role_restrict"),
    ]

    operations = [
        migrations.AddField(
            model_name="workflowinstance",
            name="task_count",
            # db_default: app processes from before this migration still insert runs without it.
            field=models.PositiveIntegerField(
                default=0, db_default=0, editable=False, verbose_name="tasks entered"
            ),
        ),
        # Runs started before the counter: count what they have.
        migrations.RunSQL(
            """
            UPDATE runtime_workflowinstance AS run
               SET task_count = counted.n
              FROM (SELECT workflow_instance_id, count(*) AS n
                      FROM runtime_taskinstance GROUP BY workflow_instance_id) AS counted
             WHERE counted.workflow_instance_id = run.id
            """,
            migrations.RunSQL.noop,
        ),
    ]
