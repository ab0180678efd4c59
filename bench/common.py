"""What the benchmarks share: a free port, the app under gunicorn, and the Node load generator.

No Django here: bench/lists.py and bench/engine.py set up their own databases first.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

BASE_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn(port: int, *, workers: int = 4, **env: str) -> subprocess.Popen[bytes]:
    """The app under gunicorn (sync workers, as in production), answering once it is up."""
    web = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "JOB_CONCURRENCY": "1", **env},
        stderr=subprocess.DEVNULL,  # a floor's 404s would be logged, one line each
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/schema/", timeout=2)
            return web
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                web.kill()
                raise
            time.sleep(0.2)


def load(
    url: str,
    seconds: float,
    clients: int,
    expected: int,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> dict[str, float]:
    """`clients` connections POST `body` to `url` (GET it, without a body) for `seconds`
    (bench/load.mjs, in Node: a light client)."""
    given = [f"{name}: {value}" for name, value in headers.items()]
    done = subprocess.run(  # noqa: S603
        ["node", BASE_DIR / "bench" / "load.mjs", url, str(seconds), str(clients), str(expected), *given],  # noqa: S607
        input=json.dumps(body).encode() if body is not None else b"",
        env={**os.environ, "LOAD_METHOD": "POST" if body is not None else "GET"},
        check=True,
        capture_output=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    result["per_second"] = result["requests"] / result["seconds"]
    return result
