"""Seed a database with many tickets, each with its run, tasks and history, through COPY.

    .venv/bin/python bench/seed.py --database tf_bench_1m --tickets 1000000 [--others 50]

One big company gets `--tickets` tickets; `--others` more companies get `--other-tickets` each
beside it. Every company has a ticket admin, a designer, task workers, submitters and a
published two-step workflow (triage, assigned to the worker with the shortest queue; then
resolve, from the pool). Tickets are spread over two years, newest last; about 5 % of them
(the newest) are still open, the rest completed or cancelled. Each ticket has one or two tasks
and two to four events. People log in with `tests.factories.PASSWORD`.

Rows go in through COPY with the session in replica mode (no per-row triggers or foreign-key
checks: the rows are made consistent here), then the queues the database keeps are counted
again and the tables analysed. About 2 to 4 minutes per million tickets on two cores.

`seed_company` is also what the query-shape tests use to fill the test database.
"""

import argparse
import io
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 — tests.factories.PASSWORD
OPEN_SHARE = 0.05  # the newest tickets still running
SPAN = timedelta(days=730)

BUNDLE: dict[str, Any] = {
    "workflow": {
        "title": "Service requests",
        "fields": [
            {"name": "subject", "type": "text", "label": "Subject", "required": True},
            {"name": "details", "type": "long_text", "label": "Details"},
            {"name": "count", "type": "integer", "label": "How many"},
            {"name": "triaged", "type": "boolean", "label": "Triaged"},
            {"name": "answer", "type": "long_text", "label": "Answer"},
        ],
        "tasks": [
            {
                "key": "triage",
                "title": "Triage the request",
                "type": "FORM",
                "input_schema": {"type": "object", "properties": {"subject": {}, "details": {}}},
                "output_schema": {"type": "object", "properties": {"triaged": {"type": "boolean"}}},
            },
            {
                "key": "resolve",
                "title": "Resolve the request",
                "type": "FORM",
                "assignment": "pool",
                "input_schema": {"type": "object", "properties": {"subject": {}, "details": {}}},
                "output_schema": {"type": "object", "properties": {"answer": {"type": "string"}}},
            },
        ],
        "transitions": [{"from": None, "to": "triage"}, {"from": "triage", "to": "resolve"}],
    },
    "ticket_types": [
        {
            "title": "Service request",
            "fields": [{"field": "subject"}, {"field": "details"}, {"field": "count"}],
        },
        {"title": "Equipment request", "fields": [{"field": "subject"}, {"field": "count"}]},
    ],
}

SUBJECTS = ["Printer jammed", "New laptop", "Access to the shared drive", "Broken chair", "VPN fails"]
DETAILS = (
    "It started this morning after the update. I tried switching it off and on again and "
    "asked a colleague, but it still does not work. Please have a look when you can."
)


@dataclass(frozen=True)
class Seeded:
    """What a seeded company's logins and rows are."""

    company_id: int
    admin_email: str
    worker_email: str
    submitter_email: str
    tickets: int


# --- COPY helpers ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy(cursor: Any, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    """COPY `rows` into `table`, in chunks of text; returns how many."""
    count = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(statement) as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_text(v) for v in row))
            buffer.write("\n")
            count += 1
            if count % 20_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def _reserve_ids(cursor: Any, table: str, count: int) -> int:
    """The first of `count` ids nothing else will take in `table` (its sequence moves past them)."""
    highest = f"(SELECT coalesce(max(id), 0) FROM {table})"  # noqa: S608 — our own table names
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        f"greatest(nextval(pg_get_serial_sequence(%s, 'id')), {highest}) + %s)",
        [table, table, count],
    )
    return int(cursor.fetchone()[0]) - count + 1


# --- people and definitions -----------------------------------------------------------------------


def _people(
    company: Any, roles: tuple[str, ...], count: int, prefix: str, domain: str, password_hash: str
) -> list[Any]:
    from ticketflower.accounts.models import User
    from ticketflower.tenancy.context import company_context
    from ticketflower.tenancy.models import SystemRoleAssignment

    with company_context(company):
        users = User.objects.bulk_create(
            User(
                email=f"{prefix}{i}@{domain}",
                password=password_hash,
                company=company,
                first_name=prefix.capitalize(),
                last_name=str(i),
            )
            for i in range(1, count + 1)
        )
        SystemRoleAssignment.objects.bulk_create(
            SystemRoleAssignment(company=company, user=user, role=role) for user in users for role in roles
        )
    return users


def _published_ticket_types(designer: Any) -> list[Any]:
    from ticketflower.definitions.services import bundle_import, workflow_publish
    from ticketflower.tenancy.context import company_context

    result = bundle_import(actor=designer, bundle=json.loads(json.dumps(BUNDLE)))
    if result.workflow is None:
        raise SystemExit(f"The bench bundle did not import: {result.problems}")
    published = workflow_publish(actor=designer, workflow=result.workflow)
    if published.release is None:
        raise SystemExit(f"The bench workflow did not publish: {published.problems}")
    with company_context(designer.company):
        return list(published.release.ticket_types.order_by("position"))


# --- the rows -------------------------------------------------------------------------------------


def seed_company(
    name: str,
    *,
    tickets: int,
    workers: int = 50,
    submitters: int = 500,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> Seeded:
    """A new company `name` with people, a published workflow and `tickets` tickets."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from ticketflower.tenancy.models import Company, SystemRole

    rng = random.Random(seed)  # noqa: S311 — bench data, not secrets
    now = now or datetime.now(UTC)
    say = progress or (lambda _: None)
    domain = name.lower().replace(" ", "-") + ".test"
    password_hash = make_password(PASSWORD)
    with transaction.atomic():
        company = Company.unscoped.create(name=name)
        # The admin opens every site but the worker's, to walk every list.
        every_site = (SystemRole.TICKET_ADMIN, SystemRole.ADMIN, SystemRole.WORKFLOW_CREATOR, SystemRole.USER)
        admins = _people(company, every_site, 1, "admin", domain, password_hash)
        designers = _people(company, (SystemRole.WORKFLOW_CREATOR,), 1, "designer", domain, password_hash)
        pool = _people(company, (SystemRole.TASK_WORKER,), workers, "worker", domain, password_hash)
        people = _people(company, (SystemRole.USER,), submitters, "person", domain, password_hash)
        ticket_types = _published_ticket_types(designers[0])
        release_id = ticket_types[0].release_id
        _seed_rows(
            company.pk,
            release_id,
            [t.pk for t in ticket_types],
            [w.pk for w in pool],
            [p.pk for p in people],
            tickets=tickets,
            rng=rng,
            now=now,
            say=say,
        )
    with connection.cursor() as cursor:
        # What the database keeps by triggers, which COPY in replica mode did not fire: the queues
        # (runtime_workerload), and the dashboards' counters (runtime_statuscount).
        cursor.execute("DELETE FROM runtime_workerload WHERE company_id = %s", [company.pk])
        cursor.execute("DELETE FROM runtime_statuscount WHERE company_id = %s", [company.pk])
        cursor.execute(
            "INSERT INTO runtime_workerload (worker_id, company_id, open_tasks, last_assigned_at) "
            "SELECT assigned_to_id, company_id, count(*) FILTER (WHERE status IN ('OPEN', 'IN_PROGRESS')), "
            "max(assigned_at) FROM runtime_taskinstance "
            "WHERE company_id = %s AND assigned_to_id IS NOT NULL GROUP BY assigned_to_id, company_id",
            [company.pk],
        )
        cursor.execute(
            "INSERT INTO runtime_statuscount (company_id, subject, ticket_type_id, status, n) "
            "SELECT company_id, 'ticket', ticket_type_id, status, count(*) FROM runtime_ticketinstance "
            "WHERE company_id = %s GROUP BY company_id, ticket_type_id, status",
            [company.pk],
        )
        cursor.execute(
            "INSERT INTO runtime_statuscount (company_id, subject, ticket_type_id, status, n) "
            "SELECT company_id, 'task', NULL, status, count(*) FROM runtime_taskinstance "
            "WHERE company_id = %s GROUP BY company_id, status",
            [company.pk],
        )
    return Seeded(
        company_id=company.pk,
        admin_email=admins[0].email,
        worker_email=pool[0].email,
        submitter_email=people[0].email,
        tickets=tickets,
    )


def _submitted(i: int) -> dict[str, Any]:
    """What ticket `i` was submitted with (its run's data starts from it)."""
    return {"subject": SUBJECTS[i % 5], "details": DETAILS, "count": i % 7 + 1}


def _triaged(status: str, stage: str) -> bool:
    """Whether the ticket went past triage: then it has its second task, resolve."""
    return stage != "triage" and status != "CANCELLED"


def _seed_rows(
    company_id: int,
    release_id: int,
    ticket_type_ids: list[int],
    worker_ids: list[int],
    submitter_ids: list[int],
    *,
    tickets: int,
    rng: random.Random,
    now: datetime,
    say: Callable[[str], None],
) -> None:
    from django.db import connection

    first_open = int(tickets * (1 - OPEN_SHARE))
    began = now - SPAN
    step = SPAN / max(tickets, 1)
    # What each ticket becomes, decided once so every table agrees.
    plans = []
    for i in range(tickets):
        if i < first_open:
            run_status = "CANCELLED" if rng.random() < 0.03 else "COMPLETED"
            stage = "done"
        else:
            roll = rng.random()
            run_status = "ERROR" if roll < 0.03 else "ON_HOLD" if roll < 0.06 else "IN_PROGRESS"
            stage = "triage" if rng.random() < 0.5 else "resolve"
        plans.append((run_status, stage))
    task_total = sum(2 if _triaged(status, stage) else 1 for status, stage in plans)

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        run0 = _reserve_ids(cursor, "runtime_workflowinstance", tickets)
        ticket0 = _reserve_ids(cursor, "runtime_ticketinstance", tickets)
        task0 = _reserve_ids(cursor, "runtime_taskinstance", task_total)
        event0 = _reserve_ids(cursor, "runtime_ticketevent", tickets * 4)

        def when(i: int, minutes: float = 0) -> datetime:
            return began + step * i + timedelta(minutes=minutes)

        def run_rows() -> Iterator[tuple[Any, ...]]:
            for i, (status, stage) in enumerate(plans):
                data = _submitted(i)
                if stage != "triage":
                    data["triaged"] = True
                if status == "COMPLETED":
                    data["answer"] = "Done: replaced and tested."
                yield (
                    run0 + i,
                    json.dumps(data),
                    status,
                    when(i),
                    when(i, 90),
                    company_id,
                    release_id,
                    "" if stage == "done" else stage,
                    "A task stopped: the endpoint answered 500." if status == "ERROR" else "",
                    2 if _triaged(status, stage) else 1,
                )

        say(f"  runs: {tickets:,}")
        _copy(
            cursor,
            "runtime_workflowinstance",
            [
                "id",
                "data",
                "status",
                "created_at",
                "updated_at",
                "company_id",
                "release_id",
                "current_task_key",
                "error",
                "task_count",
            ],
            run_rows(),
        )

        def ticket_rows() -> Iterator[tuple[Any, ...]]:
            for i, (status, _) in enumerate(plans):
                yield (
                    ticket0 + i,
                    json.dumps(_submitted(i)),
                    status,
                    when(i),
                    when(i),
                    company_id,
                    submitter_ids[i % len(submitter_ids)],
                    run0 + i,
                    ticket_type_ids[0] if i % 4 else ticket_type_ids[-1],
                )

        say(f"  tickets: {tickets:,}")
        _copy(
            cursor,
            "runtime_ticketinstance",
            [
                "id",
                "data",
                "status",
                "created_at",
                "updated_at",
                "company_id",
                "created_by_id",
                "workflow_instance_id",
                "ticket_type_id",
            ],
            ticket_rows(),
        )

        task_ids: list[tuple[int, int | None]] = []  # per ticket: triage's id, resolve's id

        def task_rows() -> Iterator[tuple[Any, ...]]:
            next_id = task0
            for i, (status, stage) in enumerate(plans):
                worker = worker_ids[i % len(worker_ids)]
                inputs = json.dumps({key: _submitted(i)[key] for key in ("subject", "details")})
                finished = _triaged(status, stage)
                if stage == "triage":
                    triage_status = "ERROR" if status == "ERROR" else "OPEN" if i % 3 else "IN_PROGRESS"
                else:
                    triage_status = "CANCELLED" if status == "CANCELLED" else "COMPLETED"
                triage_id = next_id
                next_id += 1
                yield (
                    triage_id,
                    triage_status,
                    inputs,
                    '{"triaged": true}' if finished else "{}",
                    when(i),
                    when(i, 5) if triage_status != "OPEN" else None,
                    when(i, 30) if triage_status in ("COMPLETED", "CANCELLED") else None,
                    worker,
                    company_id,
                    run0 + i,
                    "triage",
                    "Triage the request",
                    "FORM",
                    when(i),
                    "auto",
                    0,
                    None,
                    None,
                    "The endpoint answered 500." if triage_status == "ERROR" else "",
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    None,
                )
                resolve_id = None
                if finished:
                    resolve_id = next_id
                    next_id += 1
                    done = stage == "done"
                    claimed = done or i % 2 == 0
                    yield (
                        resolve_id,
                        ("COMPLETED" if done else "OPEN" if claimed else "PENDING"),
                        inputs,
                        '{"answer": "Done: replaced and tested."}' if done else "{}",
                        when(i, 30),
                        when(i, 40) if done else None,
                        when(i, 90) if done else None,
                        worker_ids[(i + 7) % len(worker_ids)] if claimed else None,
                        company_id,
                        run0 + i,
                        "resolve",
                        "Resolve the request",
                        "FORM",
                        when(i, 35) if claimed else None,
                        "pool",
                        0,
                        None,
                        None,
                        "",
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        None,
                    )
                task_ids.append((triage_id, resolve_id))

        say(f"  tasks: {task_total:,}")
        _copy(
            cursor,
            "runtime_taskinstance",
            [
                "id",
                "status",
                "input_data",
                "output_data",
                "created_at",
                "started_at",
                "completed_at",
                "assigned_to_id",
                "company_id",
                "workflow_instance_id",
                "task_key",
                "title",
                "task_type",
                "assigned_at",
                "assignment",
                "attempts",
                "callback_token_hash",
                "deadline_at",
                "error",
                "idempotency_key",
                "worker_role_id",
            ],
            task_rows(),
        )

        def event_rows() -> Iterator[tuple[Any, ...]]:
            next_id = event0
            engine = "TicketFlower"
            for i, (status, _stage) in enumerate(plans):
                ticket = ticket0 + i
                triage, resolve = task_ids[i]
                submitter = submitter_ids[i % len(submitter_ids)]
                worker = worker_ids[i % len(worker_ids)]
                events: list[tuple[Any, ...]] = [
                    ("submitted", submitter, "", "", when(i), None),
                    ("assigned", None, engine, "Assigned to the shortest queue.", when(i), triage),
                ]
                if resolve is not None:
                    events.append(("task_completed", worker, "", "", when(i, 30), triage))
                if status in ("COMPLETED", "CANCELLED"):
                    events.append((status.lower(), None, engine, "", when(i, 90), None))
                for kind, actor, label, message, at, task in events:
                    yield (next_id, kind, label, message, "{}", at, actor, company_id, task, ticket)
                    next_id += 1

        say("  history")
        _copy(
            cursor,
            "runtime_ticketevent",
            [
                "id",
                "kind",
                "actor_label",
                "message",
                "details",
                "created_at",
                "actor_id",
                "company_id",
                "task_id",
                "ticket_id",
            ],
            event_rows(),
        )
        cursor.execute("SET LOCAL session_replication_role = origin")


def analyse() -> None:
    """Statistics and visibility maps for the seeded tables, as autovacuum would leave them."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "runtime_workflowinstance",
            "runtime_ticketinstance",
            "runtime_taskinstance",
            "runtime_ticketevent",
            "runtime_workerload",
            "accounts_user",
        ):
            if connection.in_atomic_block:
                cursor.execute(f"ANALYZE {table}")
            else:
                cursor.execute(f"VACUUM (ANALYZE) {table}")


# --- the command ----------------------------------------------------------------------------------


def _fresh_database(name: str) -> None:
    import psycopg
    from django.conf import settings

    from ticketflower.core.db import server

    address = server.ensure_running(Path(settings.DATABASES["default"]["PGDATA"]), database="postgres")
    with psycopg.connect(
        host=address.host, port=address.port, user=server.SUPERUSER, dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="tf_bench_lists", help="embedded database to (re)create")
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets of the big company")
    parser.add_argument("--others", type=int, default=50, help="companies beside it")
    parser.add_argument("--other-tickets", type=int, default=1_000, help="tickets of each of those")
    parser.add_argument("--info", help="write the logins and sizes as JSON to this file")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    os.environ["EMBEDDED_DB_NAME"] = args.database
    import django

    django.setup()
    from django.core.management import call_command

    began = time.monotonic()
    _fresh_database(args.database)
    call_command("migrate", verbosity=0)
    print(f"Seeding {args.database}: {args.tickets:,} tickets", flush=True)
    big = seed_company("Bench Big", tickets=args.tickets, progress=lambda m: print(m, flush=True))
    for n in range(args.others):
        seed_company(f"Bench Other {n + 1}", tickets=args.other_tickets, workers=5, submitters=20, seed=n + 2)
    print("Analysing", flush=True)
    analyse()
    seconds = time.monotonic() - began
    print(f"Seeded in {seconds:.0f} s", flush=True)
    if args.info:
        info = {**big.__dict__, "database": args.database, "others": args.others, "seconds": seconds}
        Path(args.info).write_text(json.dumps(info))


if __name__ == "__main__":
    main()
