"""The embedded PostgreSQL server starts on demand in a fresh directory and stops cleanly."""

from pathlib import Path

import psycopg

from ticketflower.core.db import server


def test_server_starts_in_a_fresh_directory_creates_the_database_and_stops(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    assert not server.is_running(pgdata)
    address = server.ensure_running(pgdata, database="tf_fresh")
    try:
        assert server.is_running(pgdata)
        assert server.ensure_running(pgdata, database="tf_fresh") == address  # cached, no restart
        with psycopg.connect(
            host=address.host, port=address.port, user=server.SUPERUSER, dbname="tf_fresh"
        ) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            assert version is not None and str(version[0]).startswith("18.")
    finally:
        assert server.stop(pgdata)
    assert not server.is_running(pgdata)
    assert not server.stop(pgdata)


def test_a_process_list_left_empty_by_a_killed_process_is_reset(tmp_path: Path) -> None:
    pgdata = tmp_path / "postgres"
    pgdata.mkdir()
    handles = pgdata / ".handle_pids.json"
    handles.write_text("")  # what a process killed while rewriting it leaves
    server._repair_handle_list(pgdata)
    assert handles.read_text() == "[]"
    handles.write_text("[12, 34]")
    server._repair_handle_list(pgdata)
    assert handles.read_text() == "[12, 34]"  # a good list is left alone
