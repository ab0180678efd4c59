from typing import Any

from django.core.management.base import BaseCommand

from ticketflower.core.demo import demo_company_load


class Command(BaseCommand):
    help = "Create or refresh the demo company and print its logins (safe to repeat)."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_company_load()
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {logins[0].password})"))
        for login in logins:
            self.stdout.write(f"  {login.email:<36} {', '.join(login.roles)}")
