"""`manage.py bundle import|export`: workflow bundles from and to files, on the backend side.

The same services as the design site's upload, publish and download, inside the named
company's context. A command has no request, so it acts as a named user of that company
(`--as`); by default the company's first active workflow designer, a company admin first.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Exists, OuterRef

from ticketflower.accounts.models import User, normalize_email
from ticketflower.core.limits import MAX_BUNDLE_BYTES
from ticketflower.definitions import services
from ticketflower.definitions.bundles import BundleSyntaxError, bundle_dump, bundle_parse, workflow_bundle
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.definitions.validation import Problem
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company, SystemRole, SystemRoleAssignment

ACTOR_HELP = (
    "E-mail of the user of that company to act as; they need the Workflow designer role. Default: "
    "the company's first active workflow designer who is a company admin, else its first active "
    "workflow designer (first = earliest account)."
)


class Command(BaseCommand):
    help = "Import a workflow bundle (.yaml or .json) into a company's draft and publish it, or export one."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import,export}")

        upload = actions.add_parser(
            "import",
            help="Write a bundle file into a workflow's draft; --publish also publishes it.",
            description="Write a bundle file into a workflow's draft. All or nothing: a bundle with "
            "problems writes nothing, lists each problem with its place and exits with status 1.",
        )
        upload.add_argument("file", help="The bundle: JSON if it ends in .json, YAML otherwise.")
        upload.add_argument("--company", required=True, help="The company's name or id.")
        upload.add_argument(
            "--workflow",
            metavar="TITLE",
            help="Bring this existing workflow's draft in line with the file (tasks matched by key, "
            "ticket types by title). Default: create a new workflow.",
        )
        upload.add_argument(
            "--publish", action="store_true", help="Publish the draft as the next release as well."
        )
        upload.add_argument("--dry-run", action="store_true", help="Say what would change; write nothing.")
        upload.add_argument("--as", dest="actor", metavar="EMAIL", help=ACTOR_HELP)

        download = actions.add_parser(
            "export",
            help="Write a workflow's draft, or one of its releases, as a bundle.",
            description="Write a workflow's draft, or one of its releases, as a bundle.",
        )
        download.add_argument("workflow", metavar="TITLE", help="The workflow's title.")
        download.add_argument("--company", required=True, help="The company's name or id.")
        download.add_argument("--release", type=int, metavar="N", help="Release N instead of the draft.")
        download.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="Write to FILE: JSON if it ends in .json, YAML otherwise. Default: YAML on standard output.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = company_by_name_or_id(options["company"])
        with company_context(company):
            if options["action"] == "import":
                self.import_bundle(company, options)
            else:
                self.export_bundle(company, options)

    # --- import ----------------------------------------------------------------------------

    def import_bundle(self, company: Company, options: dict[str, Any]) -> None:
        if options["dry_run"] and options["publish"]:
            raise CommandError("--dry-run writes nothing, so it cannot --publish.")
        path = Path(options["file"])
        actor = acting_user(company, options["actor"])
        into = workflow_by_title(company, options["workflow"]) if options["workflow"] else None
        try:
            bundle = bundle_parse(read_bundle_file(path), filename=path.name)
        except BundleSyntaxError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        try:
            with transaction.atomic():
                result = services.bundle_import(
                    actor=actor,
                    bundle=bundle,
                    into=into,
                    dry_run=options["dry_run"],
                    comment=f"Imported {path.name} from the command line",
                )
                if result.problems:
                    self.report_problems(path, result.problems)
                    if any(p.path == "workflow.title" for p in result.problems) and into is None:
                        self.stderr.write(
                            f'To update that workflow, add --workflow "{bundle["workflow"]["title"]}".'
                        )
                    raise CommandError(f"{path}: not imported; nothing was written.")
                self.report_import(result, dry_run=options["dry_run"])
                if options["publish"] and result.workflow is not None:
                    self.publish(path, actor, result.workflow)
        except PermissionDenied as exc:
            raise CommandError(f"{actor.email}: {exc}") from exc

    def report_problems(self, path: Path, problems: list[Problem]) -> None:
        self.stderr.write(f"{path}: {len(problems)} problem(s):")
        for problem in problems:
            self.stderr.write(f"  {problem.path}: {problem.message}")

    def report_import(self, result: services.ImportResult, *, dry_run: bool) -> None:
        self.stdout.write(
            "Would write (dry run, nothing written):" if dry_run else "Imported into the draft:"
        )
        for label, items in (
            ("created", result.created),
            ("changed", result.updated),
            ("removed", result.deleted),
        ):
            if items:
                self.stdout.write(f"  {label}: {', '.join(items)}")
        if result.state is not None:
            for warning in result.state.warnings:
                self.stdout.write(f"  warning: {warning.path}: {warning.message}")
            if not dry_run:
                self.stdout.write(result.state.summary())

    def publish(self, path: Path, actor: User, workflow: WorkflowDefinition) -> None:
        published = services.workflow_publish(actor=actor, workflow=workflow, note=f"Published {path.name}")
        if published.release is None:
            self.report_problems(path, published.problems)
            # Raised inside the import's transaction: the draft is left as it was, too.
            raise CommandError(f"{published.message} Nothing was written.")
        self.stdout.write(self.style.SUCCESS(published.message))

    # --- export ----------------------------------------------------------------------------

    def export_bundle(self, company: Company, options: dict[str, Any]) -> None:
        workflow = workflow_by_title(company, options["workflow"])
        number = options["release"]
        if number is None:
            bundle = workflow_bundle(workflow)
        else:
            release = workflow.releases.filter(number=number).first()
            if release is None:
                numbers = ", ".join(
                    str(n) for n in workflow.releases.order_by("number").values_list("number", flat=True)
                )
                raise CommandError(
                    f"“{workflow.title}” has no release #{number}"
                    + (f" (its releases: {numbers})." if numbers else ": it was never published.")
                )
            bundle = release.bundle
        output = options["output"]
        text = bundle_dump(bundle, as_yaml=not (output or "").endswith(".json"))
        if not output or output == "-":
            self.stdout.write(text, ending="")
            return
        Path(output).write_text(text, encoding="utf-8")
        what = f"release #{number}" if number is not None else f"draft version {workflow.version}"
        self.stdout.write(f"Wrote “{workflow.title}” ({what}) to {output}.")


def company_by_name_or_id(value: str) -> Company:
    """The company with this id, or else this name (whatever its case); a clear error otherwise."""
    value = value.strip()
    if value.isdigit():
        by_id = Company.unscoped.filter(pk=int(value)).first()
        if by_id is not None:
            return by_id
    named = list(Company.unscoped.filter(name__iexact=value).order_by("pk"))
    if not named:
        raise CommandError(f"No company “{value}” (give its name or id).")
    if len(named) > 1:
        ids = ", ".join(str(company.pk) for company in named)
        raise CommandError(f"Several companies are called “{value}”: give the id of one ({ids}).")
    return named[0]


def acting_user(company: Company, email: str | None) -> User:
    """The user the command acts as: `email`, or the company's first active workflow designer."""
    designers = User.objects.filter(
        is_active=True, system_role_assignments__role=SystemRole.WORKFLOW_CREATOR
    ).distinct()
    if email:
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No user {email} in “{company}”.")
        if not designers.filter(pk=user.pk).exists():
            raise CommandError(f"{user.email} is not an active workflow designer of “{company}”.")
        return user
    admins = SystemRoleAssignment.objects.filter(user=OuterRef("pk"), role=SystemRole.ADMIN)
    first = designers.annotate(is_admin=Exists(admins)).order_by("-is_admin", "created_at", "pk").first()
    if first is None:
        raise CommandError(f"“{company}” has no active workflow designer to act as; give someone that role.")
    return first


def workflow_by_title(company: Company, title: str) -> WorkflowDefinition:
    workflow: WorkflowDefinition | None = WorkflowDefinition.objects.filter(
        title__iexact=title.strip()
    ).first()
    if workflow is None:
        raise CommandError(f"“{company}” has no workflow “{title.strip()}”.")
    return workflow


def read_bundle_file(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise CommandError(f"{path}: larger than {MAX_BUNDLE_BYTES:,} bytes.")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
