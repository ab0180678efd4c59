"""`manage.py assistant propose FILE --company NAME`: the assistant from the command line.

For trying generators and for scripts: the file (an outline in .txt/.md, or a .docx, .pdf,
.csv or .xlsx) goes to the configured generator as the conversation's first message; the
proposal passes the same gate as on the design site. Standard output gets the bundle as
YAML, then the reply and the open questions; the gate's problems go to standard error.
`--save` writes the workflow's draft (and a conversation it came from); `--publish` also
publishes it. Either exits with status 1, writing nothing, when the proposal has problems.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ticketflower.assistant import services
from ticketflower.assistant.documents import DocumentRefused, extract_text
from ticketflower.assistant.generators import generator
from ticketflower.assistant.generators.base import ChatMessage, GeneratorFailed, ProposalRequest
from ticketflower.definitions.bundles import bundle_dump, workflow_bundle
from ticketflower.definitions.management.commands.bundle import (
    ACTOR_HELP,
    acting_user,
    company_by_name_or_id,
    workflow_by_title,
)
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company, CompanyRole

MAX_FILE_BYTES = 5 * 1024 * 1024


class Command(BaseCommand):
    help = "Propose a workflow bundle from a plain-text outline or a document, and optionally save it."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{propose}")
        propose = actions.add_parser(
            "propose",
            help="Print the proposal for FILE as YAML; --save writes the draft, --publish publishes it.",
            description="Print the bundle the assistant proposes for FILE, then its reply and questions.",
        )
        propose.add_argument("file", help="An outline (.txt, .md) or a document (.docx, .pdf, .csv, .xlsx).")
        propose.add_argument("--company", required=True, help="The company's name or id.")
        propose.add_argument(
            "--workflow",
            metavar="TITLE",
            help="Revise this workflow: its draft is the starting point and is saved into.",
        )
        propose.add_argument(
            "--save", action="store_true", help="Write the proposal as the workflow's draft."
        )
        propose.add_argument("--publish", action="store_true", help="With --save: publish the draft too.")
        propose.add_argument(
            "--generator",
            metavar="NAME",
            default="",
            help="outline, llm or a class path. Default: ASSISTANT_GENERATOR.",
        )
        propose.add_argument("--as", dest="actor", metavar="EMAIL", help=ACTOR_HELP)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["publish"] and not options["save"]:
            raise CommandError("--publish needs --save: only a saved draft can be published.")
        company = company_by_name_or_id(options["company"])
        with company_context(company):
            self.propose(company, options)

    def propose(self, company: Company, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        text = read_document(path)
        into = workflow_by_title(company, options["workflow"]) if options["workflow"] else None
        roles = list(CompanyRole.objects.order_by("name").values_list("name", flat=True))
        maker = generator(options["generator"])
        request = ProposalRequest(
            messages=[ChatMessage("user", text)], roles=roles, draft=workflow_bundle(into) if into else None
        )
        try:
            proposal, stored = services.proposal_generate(maker, request)
        except GeneratorFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(bundle_dump(proposal.bundle, as_yaml=True))
        self.stdout.write("# Reply\n" + _commented(proposal.reply))
        if proposal.questions:
            self.stdout.write("# Open questions\n" + "".join(f"# - {q}\n" for q in proposal.questions))
        if stored["new_roles"]:
            self.stdout.write("# Company roles created on save: " + ", ".join(stored["new_roles"]) + "\n")
        for problem in stored["problems"]:
            self.stderr.write(f"{path}: {problem}")
        if not options["save"]:
            return
        if stored["problems"]:
            raise CommandError(f"{path}: the proposal has problems; nothing was saved.")
        actor = acting_user(company, options["actor"])
        try:
            with transaction.atomic():
                conversation = services.conversation_record(
                    actor=actor,
                    title=proposal.bundle["workflow"]["title"],
                    text=text,
                    proposal=stored,
                    usage=proposal.usage.as_dict(),
                    workflow=into,
                )
                result = services.proposal_save(
                    actor=actor, conversation=conversation, publish=options["publish"]
                )
                if not result.ok:
                    transaction.set_rollback(True)  # the conversation too: nothing was written
        except PermissionDenied as exc:
            raise CommandError(f"{actor.email}: {exc}") from exc
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(f"{path}: {problem}")
            raise CommandError(f"{path}: not saved; nothing was written.")
        for role in result.created_roles:
            self.stderr.write(f"Created the company role “{role}”.")
        self.stderr.write(result.message)


def read_document(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CommandError(f"{path}: larger than 5 MB.")
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or exc}.") from exc
    try:
        return extract_text(path.name, data)
    except DocumentRefused as exc:
        raise CommandError(f"{path}: {exc}") from exc


def _commented(text: str) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines())
