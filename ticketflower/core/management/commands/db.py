from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from ticketflower.core.db import server


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL server (used when DATABASE_URL is unset)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        db = settings.DATABASES["default"]
        if "PGDATA" not in db:
            raise CommandError("DATABASE_URL is set: this project does not run that database server.")
        pgdata = Path(db["PGDATA"])
        if action == "start":
            connection.ensure_connection()  # starts the server and creates the database
            self.stdout.write(f"PostgreSQL is running (data in {pgdata}).")
        elif action == "stop":
            connection.close()
            stopped = server.stop(pgdata)
            self.stdout.write("PostgreSQL stopped." if stopped else "PostgreSQL was not running.")
        else:
            running = server.is_running(pgdata)
            self.stdout.write(f"PostgreSQL is {'running' if running else 'stopped'} (data in {pgdata}).")
