"""`make run`: migrate, load the demo company, print the logins, serve until Ctrl-C."""

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from ticketflower.core.db import server


class Command(BaseCommand):
    help = "Set up the database and demo data, then run the development server until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-demo",
            action="store_true",
            help="Do not load the demo company (never loaded with DEBUG off).",
        )

    def handle(self, *args: Any, addrport: str, no_demo: bool, **options: Any) -> None:
        # Ctrl-C (SIGINT) and a plain `kill` (SIGTERM) both shut down cleanly, even when started
        # from a shell that ignores SIGINT for background jobs.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        embedded = settings.DATABASES["default"].get("PGDATA")
        pgdata = Path(embedded) if embedded else None
        started_db = pgdata is not None and not server.is_running(pgdata)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write(self.style.SUCCESS("Database is up to date."))
            if no_demo:
                pass
            elif not settings.DEBUG:
                # Its password is published: never on a site that may be public.
                self.stdout.write(
                    self.style.WARNING("Demo company not loaded: DEBUG is off (its password is public).")
                )
            else:
                call_command("load_demo", stdout=self.stdout)
            connection.close()
            self._sandbox_status()
            self.stdout.write(self.style.SUCCESS(f"\nTicketFlower: http://{addrport}/  (Ctrl-C stops it)\n"))
            self._serve(addrport)
        finally:
            if started_db and pgdata is not None:
                connection.close()
                server.stop(pgdata)
                self.stdout.write("Stopped the embedded PostgreSQL server.")

    def _sandbox_status(self) -> None:
        from ticketflower.codetasks.sandbox import sandbox_problem

        problem = sandbox_problem()
        if problem is None:
            self.stdout.write(self.style.SUCCESS("Code tasks: the sandbox works (bubblewrap)."))
        else:
            self.stdout.write(self.style.WARNING(f"Code tasks will stop in ERROR. {problem}"))

    def _serve(self, addrport: str) -> None:
        # Child processes, so the autoreloader restarts only the web server, never this
        # supervisor. The job worker runs beside it; when either stops, both stop.
        manage_py = str(Path(settings.BASE_DIR) / "manage.py")
        children = [
            subprocess.Popen([sys.executable, manage_py, "runserver", addrport]),  # noqa: S603
            subprocess.Popen([sys.executable, manage_py, "procrastinate", "worker"]),  # noqa: S603
        ]
        self.stdout.write("Job worker started (manage.py procrastinate worker).")
        sandbox = sandbox_addrport(addrport)
        if sandbox:
            # The same project answers the sandbox's host name with the sandbox's URLs only.
            children.append(
                subprocess.Popen([sys.executable, manage_py, "runserver", "--noreload", sandbox])  # noqa: S603
            )
            self.stdout.write(f"Layout sandbox: {settings.LAYOUT_SANDBOX_ORIGIN}/ (serves layouts only).")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


def sandbox_addrport(app_addrport: str) -> str:
    """Where to serve a local LAYOUT_SANDBOX_ORIGIN, or "" when it is elsewhere (or unset)."""
    origin = urlsplit(settings.LAYOUT_SANDBOX_ORIGIN)
    if origin.hostname not in {"localhost", "127.0.0.1"} or not origin.port:
        return ""
    if app_addrport.rpartition(":")[2] == str(origin.port):
        return ""  # the app's own server answers it too
    return f"127.0.0.1:{origin.port}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
