import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import ticketflower.tenancy.constraints

# A task counts in its assignee's queue while OPEN or IN_PROGRESS (QUEUED_TASK_STATUSES). A change
# that moves a task into, out of or between queues, or assigns it anew, first takes the company's
# assignment lock (services._lock_assignments: the two-key advisory lock 7301, company), so loads
# are only ever changed under that lock and no two transactions can deadlock on two loads.
WORKER_LOAD = """
CREATE FUNCTION runtime_task_worker_load() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_queued bigint;  -- whose queue held the task before
    now_queued bigint;  -- whose queue holds it now
    assigned timestamptz;  -- set when the task was (re)assigned by this change
    company bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        company := OLD.company_id;
        IF OLD.status IN ('OPEN', 'IN_PROGRESS') THEN
            was_queued := OLD.assigned_to_id;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        company := NEW.company_id;
        IF NEW.status IN ('OPEN', 'IN_PROGRESS') THEN
            now_queued := NEW.assigned_to_id;
        END IF;
        IF NEW.assigned_to_id IS NOT NULL AND NEW.assigned_at IS NOT NULL THEN
            IF TG_OP = 'INSERT' THEN
                assigned := NEW.assigned_at;
            ELSIF NEW.assigned_at IS DISTINCT FROM OLD.assigned_at
               OR NEW.assigned_to_id IS DISTINCT FROM OLD.assigned_to_id THEN
                assigned := NEW.assigned_at;
            END IF;
        END IF;
    END IF;
    IF was_queued IS NOT DISTINCT FROM now_queued AND assigned IS NULL THEN
        RETURN NULL;  -- started, saved, edited: no queue changes
    END IF;
    PERFORM pg_advisory_xact_lock(7301, company::int);
    IF was_queued IS NOT NULL AND was_queued IS DISTINCT FROM now_queued THEN
        UPDATE runtime_workerload SET open_tasks = open_tasks - 1 WHERE worker_id = was_queued;
    END IF;
    IF (now_queued IS NOT NULL AND now_queued IS DISTINCT FROM was_queued) OR assigned IS NOT NULL THEN
        INSERT INTO runtime_workerload (worker_id, company_id, open_tasks, last_assigned_at)
        VALUES (
            NEW.assigned_to_id,
            company,
            CASE WHEN now_queued IS NOT NULL AND now_queued IS DISTINCT FROM was_queued THEN 1 ELSE 0 END,
            assigned
        )
        ON CONFLICT (worker_id) DO UPDATE SET
            open_tasks = runtime_workerload.open_tasks + EXCLUDED.open_tasks,
            last_assigned_at = GREATEST(runtime_workerload.last_assigned_at, EXCLUDED.last_assigned_at);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runtime_task_worker_load
    AFTER INSERT OR DELETE OR UPDATE OF status, assigned_to_id, assigned_at ON runtime_taskinstance
    FOR EACH ROW EXECUTE FUNCTION runtime_task_worker_load();
INSERT INTO runtime_workerload (worker_id, company_id, open_tasks, last_assigned_at)
SELECT assigned_to_id, company_id, count(*) FILTER (WHERE status IN ('OPEN', 'IN_PROGRESS')), max(assigned_at)
  FROM runtime_taskinstance
 WHERE assigned_to_id IS NOT NULL
 GROUP BY assigned_to_id, company_id;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_api_tokens_and_notifications"),
        ("runtime", "0009_run_task_count"),
        ("tenancy", "0005_company_webhook_secret"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerLoad",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "worker",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="load",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="worker",
                    ),
                ),
                ("open_tasks", models.IntegerField(default=0, verbose_name="open tasks")),
                (
                    "last_assigned_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last assigned"),
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
            ],
            options={
                "verbose_name": "worker load",
                "verbose_name_plural": "worker loads",
                "constraints": [
                    ticketflower.tenancy.constraints.SameCompany(
                        field="worker", name="runtime_workerload_worker_same_company"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(open_tasks__gte=0), name="runtime_workerload_not_negative"
                    ),
                ],
            },
        ),
        migrations.RunSQL(
            WORKER_LOAD,
            "DROP TRIGGER runtime_task_worker_load ON runtime_taskinstance;"
            " DROP FUNCTION runtime_task_worker_load();",
        ),
    ]
