"""Production on one machine, as README's "Production on one machine" does it.

`.env.production.example` filled in (a database of its own on the embedded server, through
DATABASE_URL), `migrate`, `collectstatic`, gunicorn with `config/gunicorn.py`, and the job
worker as a process of its own; then pages, static files and a job, behind a proxy's HTTPS
header as they would be.
"""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from django.conf import settings

from ticketflower.core.db import server
from ticketflower.core.tests.test_serve import free_port

BASE_DIR = Path(__file__).resolve().parents[3]
DATABASE = "tf_production_test"
HTTPS = {"X-Forwarded-Proto": "https"}  # what the reverse proxy in front adds


def documented_environment(tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    """`.env.production.example` with its CHANGE values filled in, as the `.env` both the app
    and gunicorn read; the process environment carries nothing else of ours."""
    values: dict[str, str] = {}
    for line in (BASE_DIR / ".env.production.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    values.update(
        SECRET_KEY="production-test-" + "s3cr3t" * 10,
        ALLOWED_HOSTS="127.0.0.1",
        PUBLIC_BASE_URL=f"https://127.0.0.1:{port}",
        CSRF_TRUSTED_ORIGINS=f"https://127.0.0.1:{port}",
        DATABASE_URL=database_url,
        DATA_DIR=str(tmp_path / "data"),
        STATIC_ROOT=str(tmp_path / "static"),
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
    )
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    kept = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    return {**kept, "DJANGO_SETTINGS_MODULE": "config.settings", "TF_ENV_FILE": str(env_file)}


@pytest.fixture
def database_url() -> Iterator[str]:
    address = server.ensure_running(Path(settings.DATABASES["default"]["PGDATA"]), database="postgres")
    admin_url = f"postgres://{server.SUPERUSER}@/postgres?host={address.host}&port={address.port}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    yield f"postgres://{server.SUPERUSER}@/{DATABASE}?host={address.host}&port={address.port}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        args, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def started(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        args, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_production_serves_pages_static_files_and_jobs(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = documented_environment(tmp_path, database_url, port)
    python = sys.executable
    checked = run(env, python, "manage.py", "check", "--deploy")
    assert "(security.W021)" in checked and "1 issue" in checked  # only: HSTS preload is a choice
    run(env, python, "manage.py", "migrate", "--noinput")
    run(env, python, "manage.py", "collectstatic", "--noinput")
    web = started(env, python, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi")
    worker = started(env, python, "manage.py", "procrastinate", "worker")
    base = f"http://127.0.0.1:{port}"
    try:
        page = wait_for(f"{base}/accounts/login/", web)
        assert page.status_code == 200
        assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        # DEBUG is off: an unknown page is the plain 404, not Django's list of URL patterns.
        missing = httpx.get(f"{base}/no-such-page/", headers=HTTPS)
        assert missing.status_code == 404 and "URLconf" not in missing.text
        # Plain HTTP (no proxy header) is sent to HTTPS.
        plain = httpx.get(f"{base}/accounts/login/")
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")

        # Static files: hashed names from the manifest, compressed, cached for good.
        stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page.text)
        assert stylesheet, "pages link hashed static files"
        served = httpx.get(f"{base}{stylesheet.group(1)}", headers={**HTTPS, "Accept-Encoding": "gzip"})
        assert served.status_code == 200
        assert served.headers["Content-Encoding"] == "gzip"
        assert "immutable" in served.headers["Cache-Control"]

        # The worker process runs jobs deferred to the shared queue (successful ones are deleted).
        run(
            env,
            python,
            "manage.py",
            "procrastinate",
            "defer",
            "--ignore-already-enqueued",  # the worker's own periodic deferrer may have been first
            "runtime.fold_status_counts",
            '{"timestamp": 0}',
        )
        assert wait_for_job(database_url, "runtime.fold_status_counts") == "succeeded"
    finally:
        for process in (web, worker):
            process.send_signal(signal.SIGTERM)
        for process in (web, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(url: str, web: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, headers=HTTPS)
        except httpx.TransportError:
            if web.poll() is not None or time.monotonic() > deadline:
                output = web.stdout.read() if web.stdout else ""
                raise AssertionError(f"gunicorn did not answer:\n{output[-3000:]}") from None
            time.sleep(0.3)


def wait_for_job(database_url: str, task_name: str) -> str:
    """The job's end: "succeeded" once the worker ran it (and, as configured, deleted it)."""
    deadline = time.monotonic() + 60
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT status FROM procrastinate_jobs WHERE task_name = %s ORDER BY id DESC LIMIT 1",
                [task_name],
            ).fetchone()
            status = "succeeded" if row is None else str(row[0])
            if status in ("succeeded", "failed") or time.monotonic() > deadline:
                return status
            time.sleep(0.3)
