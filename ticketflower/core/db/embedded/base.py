"""PostgreSQL backend that starts the embedded server on the first connection.

Settings name it as ENGINE with a `PGDATA` key; everything else is Django's own PostgreSQL
backend. The server address is only known once the server runs, so it is filled in here
rather than in settings (mypy, ruff and `manage.py check` never start a database).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.backends.postgresql import base

from ticketflower.core.db import server


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        address = server.ensure_running(
            Path(self.settings_dict["PGDATA"]), database=self.settings_dict["MAIN_DATABASE"]
        )
        self.settings_dict.update(HOST=address.host, PORT=address.port, USER=server.SUPERUSER)
        return super().get_connection_params()
