from django.db import migrations

# A ticket carries its run's status so lists and counts by status read the ticket table alone.
# The database keeps the copy: a ticket takes its run's status whenever it is written, and a
# run's new status is copied to its ticket. So no code path can let the two disagree.
TICKET_STATUS = """
CREATE FUNCTION runtime_ticket_status_from_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.workflow_instance_id IS NOT NULL THEN
        SELECT status INTO NEW.status FROM runtime_workflowinstance WHERE id = NEW.workflow_instance_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER runtime_ticket_status_from_run
    BEFORE INSERT OR UPDATE ON runtime_ticketinstance
    FOR EACH ROW EXECUTE FUNCTION runtime_ticket_status_from_run();
CREATE FUNCTION runtime_run_status_to_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE runtime_ticketinstance SET status = NEW.status WHERE workflow_instance_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER runtime_run_status_to_ticket
    AFTER UPDATE OF status ON runtime_workflowinstance
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION runtime_run_status_to_ticket();
UPDATE runtime_ticketinstance AS ticket SET status = run.status
  FROM runtime_workflowinstance AS run
 WHERE run.id = ticket.workflow_instance_id AND ticket.status IS DISTINCT FROM run.status;
"""

UNDO_TICKET_STATUS = """
DROP TRIGGER runtime_run_status_to_ticket ON runtime_workflowinstance;
DROP FUNCTION runtime_run_status_to_ticket();
DROP TRIGGER runtime_ticket_status_from_run ON runtime_ticketinstance;
DROP FUNCTION runtime_ticket_status_from_run();
"""

# The dashboards' counts (StatusCount): every change appends -1 for what a row was and +1 for
# what it is, never updating a shared row, so concurrent transactions never wait on a counter.
STATUS_COUNTS = """
CREATE FUNCTION runtime_ticket_status_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO runtime_statuscount (company_id, subject, ticket_type_id, status, n)
        VALUES (OLD.company_id, 'ticket', OLD.ticket_type_id, OLD.status, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO runtime_statuscount (company_id, subject, ticket_type_id, status, n)
        VALUES (NEW.company_id, 'ticket', NEW.ticket_type_id, NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION runtime_task_status_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO runtime_statuscount (company_id, subject, status, n)
        VALUES (OLD.company_id, 'task', OLD.status, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO runtime_statuscount (company_id, subject, status, n)
        VALUES (NEW.company_id, 'task', NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runtime_ticket_count AFTER INSERT OR DELETE ON runtime_ticketinstance
    FOR EACH ROW EXECUTE FUNCTION runtime_ticket_status_count();
-- No column list: the status may be set by runtime_ticket_status_from_run, not by the UPDATE.
CREATE TRIGGER runtime_ticket_count_change AFTER UPDATE ON runtime_ticketinstance
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.ticket_type_id IS DISTINCT FROM NEW.ticket_type_id)
    EXECUTE FUNCTION runtime_ticket_status_count();
CREATE TRIGGER runtime_task_count AFTER INSERT OR DELETE ON runtime_taskinstance
    FOR EACH ROW EXECUTE FUNCTION runtime_task_status_count();
CREATE TRIGGER runtime_task_count_change AFTER UPDATE OF status ON runtime_taskinstance
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION runtime_task_status_count();
INSERT INTO runtime_statuscount (company_id, subject, ticket_type_id, status, n)
SELECT company_id, 'ticket', ticket_type_id, status, count(*) FROM runtime_ticketinstance
 GROUP BY company_id, ticket_type_id, status;
INSERT INTO runtime_statuscount (company_id, subject, ticket_type_id, status, n)
SELECT company_id, 'task', NULL, status, count(*) FROM runtime_taskinstance GROUP BY company_id, status;
"""

UNDO_STATUS_COUNTS = """
DROP TRIGGER runtime_task_count_change ON runtime_taskinstance;
DROP TRIGGER runtime_task_count ON runtime_taskinstance;
DROP TRIGGER runtime_ticket_count_change ON runtime_ticketinstance;
DROP TRIGGER runtime_ticket_count ON runtime_ticketinstance;
DROP FUNCTION runtime_task_status_count();
DROP FUNCTION runtime_ticket_status_count();
DELETE FROM runtime_statuscount;
"""



class Migration(migrations.Migration):
    # Apart from 0012: its foreign-key indexes are created at its end, which PostgreSQL refuses
    # on a table with rows just inserted in the same transaction (the counters' first fill).
    dependencies = [("runtime", "0012_ticket_status_counts_and_list_indexes")]

    operations = [
        migrations.RunSQL(TICKET_STATUS, UNDO_TICKET_STATUS),
        migrations.RunSQL(STATUS_COUNTS, UNDO_STATUS_COUNTS),
    ]
