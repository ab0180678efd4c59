"""`make run`'s command serves the app with a job worker and stops everything it started on Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

BASE_DIR = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c in a terminal", "kill of the main process"],
)
def test_serve_answers_and_stops_the_web_server_with_it(signum: int, to_group: bool) -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(BASE_DIR / "manage.py"), "serve", f"127.0.0.1:{port}", "--no-demo"],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        status = wait_for(f"http://127.0.0.1:{port}/accounts/login/", timeout=60)
        assert status == 200
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the web server runs as a child process"
        commands = [" ".join(child.cmdline()) for child in children]
        assert any("procrastinate worker" in command for command in commands), "and the job worker beside it"
        if to_group:
            os.killpg(process.pid, signum)  # what Ctrl-C in a terminal does
        else:
            process.send_signal(signum)
        output, _ = process.communicate(timeout=30)
        assert "Database is up to date." in output
        assert all(not child.is_running() or child.status() == psutil.STATUS_ZOMBIE for child in children)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def wait_for(url: str, *, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return int(response.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def test_serve_skips_the_demo_company_when_debug_is_off() -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(BASE_DIR / "manage.py"), "serve", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "DEBUG": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/accounts/login/", timeout=60) == 200
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        assert "Demo company not loaded: DEBUG is off" in output
        assert "Demo logins" not in output
        assert "Code tasks: the sandbox works (bubblewrap)." in output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
