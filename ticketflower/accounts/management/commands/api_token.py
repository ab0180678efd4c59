from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ticketflower.accounts.models import User, normalize_email
from ticketflower.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Personal API tokens. `api_token create <email> [--name N]` prints a new token's secret."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        create = actions.add_parser("create", help="Make a token for the person with this e-mail address.")
        create.add_argument("email")
        create.add_argument("--name", default="command line", help='What it is for (default "command line").')

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        # Outside any company: the address names one account platform-wide, as a login does.
        user = User.unscoped.select_related("company").filter(email=normalize_email(options["email"])).first()
        if user is None:
            raise CommandError(f"No account has the e-mail address {options['email']}.")
        if not user.is_active:
            raise CommandError(f"{user.email} is deactivated: a token of theirs would be refused.")
        try:
            token, secret = api_token_create(user=user, name=options["name"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(
            f"Token “{token.name}” for {user.email} ({user.company}). "
            "Keep the secret safe: it is not shown again."
        )
        self.stdout.write(secret)
