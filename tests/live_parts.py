"""Real parts for engine tests: an HTTP endpoint on loopback and a job worker process.

`Endpoint` answers from a script of replies and records every request it got (headers and
body). `job_worker()` runs `manage.py procrastinate worker` against the test database, as a
separate process that a test may kill.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[1]


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Endpoint:
    """A loopback HTTP server; replies are taken in order, the last one repeats."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply()]
        self.received: list[Received] = []
        self.arrived = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                endpoint.received.append(Received(self.path, dict(self.headers.items()), body))
                endpoint.arrived.set()
                reply = endpoint.replies.pop(0) if len(endpoint.replies) > 1 else endpoint.replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up (a timeout, a killed worker)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Endpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _worker_env(**extra: str) -> dict[str, str]:
    """This process's settings, pointed at the database the test runs on."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", **extra}
    name = str(connection.settings_dict["NAME"])
    if os.environ.get("DATABASE_URL"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))
    else:
        env["EMBEDDED_DB_NAME"] = name
    return env


# Fast enough for tests: scheduled jobs found within 0.2 s, a dead worker noticed after 3 s.
FAST_JOBS = {
    "JOB_POLL_SECONDS": "0.2",
    "JOB_HEARTBEAT_SECONDS": "0.5",
    "JOB_STALLED_SECONDS": "3",
    "JOB_RECOVERY_CRON": "* * * * * */1",
}


@contextmanager
def job_worker(**extra_env: str) -> Iterator[subprocess.Popen[str]]:
    """A real job worker process on the test database; stopped (or killed) at the end."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(BASE_DIR / "manage.py"), "procrastinate", "worker"],
        cwd=BASE_DIR,
        env=_worker_env(**{**FAST_JOBS, **extra_env}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def kill_hard(process: subprocess.Popen[str]) -> None:
    """kill -9: no clean-up, no goodbye to the database."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_until[T](check: Callable[[], T], *, timeout: float = 30, what: str = "the condition") -> T:
    """Poll `check` until it returns something truthy (a fresh connection each time)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")
        time.sleep(0.1)
