from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ticketflower.core.demo import demo_company_load

REFUSED = (
    "The demo company's password is published, so load_demo runs only with DEBUG on "
    "(a development machine), never on a production site."
)


class Command(BaseCommand):
    help = "Create or refresh the demo company and print its logins (safe to repeat; DEBUG only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(REFUSED)
        logins = demo_company_load()
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {logins[0].password})"))
        for login in logins:
            self.stdout.write(f"  {login.email:<36} {', '.join(login.roles)}")
