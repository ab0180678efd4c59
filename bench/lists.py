"""Every list and dashboard of a seeded database (bench/seed.py), timed through gunicorn.

    .venv/bin/python bench/lists.py --info .data/bench/tf_bench_1m.json [--seconds 3]

For each page: p50 and p95 of one client requesting it for `--seconds` against gunicorn with
2 workers, and, counted in-process with Django's test client, its SQL statements and their
time. Then the ticket archive under 8 concurrent connections (requests/s, p50, p99). Prints
JSON lines (one per page), for bench/run to tabulate.
"""

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.common import free_port, gunicorn, load  # noqa: E402


def pages() -> list[tuple[str, str, str]]:
    """(name, who, path) for every list and dashboard; who is admin, worker, submitter or an API token.

    LAST stands for the list's last page (page 200 when its count reaches the cap of 10,000).
    """
    year_ago = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=365)
    month = f"created_at_from={year_ago}&created_at_to={year_ago + datetime.timedelta(days=30)}"
    return [
        ("ticket admin: dashboard", "admin", "/tickets/"),
        ("ticket admin: active tickets", "admin", "/tickets/runtime/activeticket/"),
        ("ticket admin: ticket archive", "admin", "/tickets/runtime/archivedticket/"),
        ("ticket admin: ticket archive, last page", "admin", "/tickets/runtime/archivedticket/?p=LAST"),
        ("ticket admin: ticket archive, oldest first", "admin", "/tickets/runtime/archivedticket/?o=4"),
        ("ticket admin: archive, a month a year ago", "admin", f"/tickets/runtime/archivedticket/?{month}"),
        ("ticket admin: archive search (a person)", "admin", "/tickets/runtime/archivedticket/?q=person12"),
        ("ticket admin: archive search (a number)", "admin", "/tickets/runtime/archivedticket/?q=%23500"),
        (
            "ticket admin: archive by type",
            "admin",
            "/tickets/runtime/archivedticket/?type=Equipment+request",
        ),
        ("ticket admin: active tasks", "admin", "/tickets/runtime/activetask/"),
        ("ticket admin: tasks waiting for a worker", "admin", "/tickets/runtime/activetask/?waiting=any"),
        ("ticket admin: tasks in error", "admin", "/tickets/runtime/activetask/?status=ERROR"),
        ("ticket admin: task archive", "admin", "/tickets/runtime/archivedtask/"),
        ("ticket admin: task archive, last page", "admin", "/tickets/runtime/archivedtask/?p=LAST"),
        ("ticket admin: task archive search (a title)", "admin", "/tickets/runtime/archivedtask/?q=resolve"),
        ("ticket admin: task archive search (a number)", "admin", "/tickets/runtime/archivedtask/?q=%23500"),
        ("worker: dashboard", "worker", "/worker/"),
        ("worker: my tasks", "worker", "/worker/runtime/mytask/"),
        ("worker: open tasks (the pool)", "worker", "/worker/runtime/pooltask/"),
        ("submitter: my tickets (running)", "submitter", "/my-tickets/"),
        ("submitter: my tickets, all", "submitter", "/my-tickets/?tab=all"),
        ("submitter: my tickets, closed, by type", "submitter", "/my-tickets/?tab=closed&sort=type"),
        ("designer: dashboard", "admin", "/design/"),
        ("company admin: dashboard", "admin", "/company/"),
        ("company admin: people", "admin", "/company/accounts/user/"),
        ("API: all tickets (ticket admin)", "admin-token", "/api/v1/tickets/?all=1"),
        ("API: all tickets, last page", "admin-token", "/api/v1/tickets/?all=1&page=LAST"),
        ("API: all tickets before #500", "admin-token", "/api/v1/tickets/?all=1&before=500"),
        ("API: my tickets", "submitter-token", "/api/v1/tickets/"),
        ("API: my tasks", "worker-token", "/api/v1/tasks/"),
        ("API: the pool", "worker-token", "/api/v1/tasks/pool/"),
    ]


def setup(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    os.environ["EMBEDDED_DB_NAME"] = database
    os.environ["CONN_MAX_AGE"] = "60"
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()  # responses carry their template context (last_page reads it)


def credentials(info: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Request headers per `who`: a session cookie, or an API token."""
    from django.test import Client

    from ticketflower.accounts.models import User
    from ticketflower.accounts.services import api_token_create
    from ticketflower.tenancy.context import company_context

    headers: dict[str, dict[str, str]] = {}
    emails = {who: info[f"{who}_email"] for who in ("admin", "worker", "submitter")}
    for who, email in emails.items():
        user = User.unscoped.get(email=email)
        client = Client()
        client.force_login(user)
        headers[who] = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
        with company_context(user.company):  # type: ignore[arg-type]  # a seeded person has one
            _, secret = api_token_create(user=user, name=f"bench {time.time()}")
        headers[f"{who}-token"] = {"Authorization": f"Bearer {secret}"}
    return headers


def last_page(path: str, headers: dict[str, str]) -> str:
    """`path` with LAST replaced by the number of the list's last page."""
    from django.test import Client

    first = Client(headers=headers).get(path.replace("LAST", "1"))
    if path.startswith("/api/"):
        pages = -(-first.json()["count"] // 50)
    else:
        pages = first.context["cl"].paginator.num_pages
    return path.replace("LAST", str(max(pages, 1)))


def in_process(path: str, headers: dict[str, str], rounds: int = 3) -> dict[str, Any]:
    """Status, statements and SQL milliseconds of one page (the median of `rounds`), in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers=headers)
    client.get(path)  # warm: caches, prepared plans, the first connection
    runs = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
        runs.append((sql_ms, len(queries), response.status_code))
    runs.sort()
    sql_ms, count, status = runs[len(runs) // 2]
    return {"status": status, "queries": count, "sql_ms": round(sql_ms, 1), "rows": rows_shown(response)}


def rows_shown(response: Any) -> int | None:
    """How many rows the page lists (None for a dashboard): pages are compared like for like."""
    from ticketflower.tenancy.context import company_context

    if response.get("Content-Type", "").startswith("application/json"):
        return len(response.json()["results"])
    context = response.context
    if context is None:
        return None
    if "cl" in context:
        with company_context(response.wsgi_request.user.company):  # a list not paged is read again
            return len(context["cl"].result_list)
    if "page" in context and hasattr(context["page"], "rows"):
        return len(context["page"].rows)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--info", required=True, help="the JSON bench/seed.py --info wrote")
    parser.add_argument("--seconds", type=float, default=3.0, help="per page, one client")
    parser.add_argument("--concurrent-seconds", type=float, default=10.0)
    args = parser.parse_args()
    info = json.loads(Path(args.info).read_text())
    setup(info["database"])
    headers = credentials(info)
    port = free_port()
    web = gunicorn(port, workers=2)
    try:
        for name, who, page in pages():
            path = last_page(page, headers[who]) if "LAST" in page else page
            measured = in_process(path, headers[who])
            timed = load(f"http://127.0.0.1:{port}{path}", args.seconds, 1, 200, headers[who])
            print(
                json.dumps(
                    {
                        "page": name,
                        "path": path,
                        **measured,
                        "p50_ms": round(timed["p50_ms"], 1),
                        "p95_ms": round(timed["p95_ms"], 1),
                        "failures": timed["failures"],
                    }
                ),
                flush=True,
            )
        archive = f"http://127.0.0.1:{port}/tickets/runtime/archivedticket/"
        load(archive, 1, 8, 200, headers["admin"])  # warm every worker
        busy = load(archive, args.concurrent_seconds, 8, 200, headers["admin"])
        print(
            json.dumps(
                {
                    "page": "ticket archive, 8 connections",
                    "per_second": round(busy["per_second"], 1),
                    "p50_ms": round(busy["p50_ms"], 1),
                    "p99_ms": round(busy["p99_ms"], 1),
                    "failures": busy["failures"],
                }
            ),
            flush=True,
        )
    finally:
        web.terminate()
        web.wait(timeout=20)


if __name__ == "__main__":
    main()
