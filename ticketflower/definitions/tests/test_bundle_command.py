"""`manage.py bundle import|export`: the design site's upload, publish and download from a shell."""

import io
import json
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from reversion.models import Version

from conftest import Tenant
from tests.factories import BUNDLES, load_bundle, make_company, make_release, make_workflow
from ticketflower.definitions.bundles import bundle_dump, workflow_bundle
from ticketflower.definitions.models import WorkflowDefinition, WorkflowRelease
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db

SAMPLE = BUNDLES / "it-equipment-request.yaml"


def bundle_command(*args: str) -> tuple[str, str]:
    """Run `manage.py bundle ARGS`; what it wrote to standard output and to standard error."""
    out, err = io.StringIO(), io.StringIO()
    call_command("bundle", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing(*args: str) -> tuple[CommandError, str]:
    """Run a `bundle` command that must fail: its error (exit status 1) and what it wrote to stderr."""
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("bundle", *args, stdout=io.StringIO(), stderr=err)
    assert caught.value.returncode == 1  # what `manage.py` exits with
    return caught.value, err.getvalue()


def write(tmp_path: Path, name: str, bundle: dict[str, object]) -> Path:
    path = tmp_path / name
    path.write_text(bundle_dump(bundle, as_yaml=not name.endswith(".json")))
    return path


def test_import_writes_a_new_draft_and_says_what_it_created(tenant_a: Tenant) -> None:
    out, _ = bundle_command("import", str(SAMPLE), "--company", "alpha florists")
    assert out.splitlines() == [
        "Imported into the draft:",
        "  created: workflow “IT equipment request”, task “approve”, task “order”, task “decline”, "
        "ticket type “Request IT equipment”",
        "  warning: workflow.tasks[2].output_schema: Nothing to fill in: the person doing this task only "
        "marks it done. If they should enter something, list those fields in the task's output schema.",
        "Not published yet; draft version 1 is ready to publish.",
    ]
    workflow = WorkflowDefinition.unscoped.get(title="IT equipment request")
    assert workflow.company_id == tenant_a.company.pk
    assert not WorkflowRelease.unscoped.exists()


def test_import_acts_as_the_first_designer_who_is_a_company_admin_by_default(tenant_a: Tenant) -> None:
    bundle_command("import", str(SAMPLE), "--company", str(tenant_a.company.pk))
    workflow = WorkflowDefinition.unscoped.get(title="IT equipment request")
    assert workflow.created_by == tenant_a.admin
    assert Version.objects.get_for_object(workflow).get().revision.user == tenant_a.admin


def test_import_with_problems_exits_with_1_lists_each_place_and_writes_nothing(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["transitions"][1]["condition"] = "data.approved =="
    bundle["workflow"]["tasks"][1].update(type="SYNC_ACTION", action_url="https://x.test", timeout_seconds=5)
    bundle["workflow"]["tasks"][1]["worker_role"] = "Alpha staff"
    path = write(tmp_path, "broken.yaml", bundle)
    error, stderr = failing("import", str(path), "--company", "Alpha Florists")
    assert str(error) == f"{path}: not imported; nothing was written."
    lines = stderr.splitlines()
    assert lines[0] == f"{path}: 2 problem(s):"
    assert lines[1].startswith("  workflow.tasks[1].worker_role: Only form tasks are assigned to people")
    assert lines[2].startswith("  workflow.transitions[1].condition: The condition does not parse")
    assert not WorkflowDefinition.unscoped.exists()


def test_an_unknown_worker_role_is_a_problem_line_at_its_task(tenant_a: Tenant, tmp_path: Path) -> None:
    path = write(tmp_path, "po.json", load_bundle("purchase-order.yaml", role="Alpha staff"))
    path.write_text(path.read_text().replace('"worker_role": "Alpha staff"', '"worker_role": "Finance"'))
    _, stderr = failing("import", str(path), "--company", "Alpha Florists")
    assert "  workflow.tasks[0].worker_role: Unknown company role 'Finance': create it" in stderr


def test_import_publish_makes_the_next_release_and_prints_its_number(tenant_a: Tenant) -> None:
    out, _ = bundle_command(
        "import",
        str(SAMPLE),
        "--company",
        "Alpha Florists",
        "--publish",
        "--as",
        "Designer@Alpha-Florists.test",
    )
    release = WorkflowRelease.unscoped.get()
    assert (release.number, release.published_by, release.note) == (
        1,
        tenant_a.designer,
        "Published it-equipment-request.yaml",
    )
    assert out.splitlines()[-1] == (
        "Published release #1. New tickets of “Request IT equipment” run it; running tickets keep theirs."
    )


def test_import_into_a_workflow_updates_its_draft_and_publishes_the_change(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    workflow = make_workflow(tenant_a.designer)
    make_release(tenant_a.designer, workflow)
    bundle = load_bundle("it-equipment-request.yaml")
    bundle["workflow"]["tasks"][0].update(assignment="pool", worker_role="alpha staff")
    path = write(tmp_path, "it.json", bundle)
    out, _ = bundle_command(
        "import", str(path), "--company", "Alpha Florists", "--workflow", "it equipment request", "--publish"
    )
    assert "  changed: workflow “IT equipment request”, task “approve”" in out
    assert "Published release #2." in out
    with company_context(tenant_a.company):
        latest = workflow.releases.get(number=2)
    approve = latest.bundle["workflow"]["tasks"][0]
    assert (approve["assignment"], approve["worker_role"]) == ("pool", "Alpha staff")


def test_importing_a_title_the_company_has_suggests_the_workflow_option(tenant_a: Tenant) -> None:
    make_workflow(tenant_a.designer)
    _, stderr = failing("import", str(SAMPLE), "--company", "Alpha Florists")
    assert "  workflow.title: Your company already has a workflow called “IT equipment request”" in stderr
    assert stderr.splitlines()[-1] == 'To update that workflow, add --workflow "IT equipment request".'
    assert WorkflowDefinition.unscoped.count() == 1


def test_a_dry_run_says_what_it_would_write_and_writes_nothing(tenant_a: Tenant) -> None:
    out, _ = bundle_command("import", str(SAMPLE), "--company", "Alpha Florists", "--dry-run")
    assert out.startswith(
        "Would write (dry run, nothing written):\n  created: workflow “IT equipment request”"
    )
    assert not WorkflowDefinition.unscoped.exists()


def test_a_file_that_is_not_a_bundle_names_the_line(tenant_a: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("workflow:\n  title: [unclosed\n")
    error, _ = failing("import", str(path), "--company", "Alpha Florists")
    assert str(error).startswith(f"{path}: Not valid YAML: line 3, column 1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--company", "Nobody Ltd"], "No company “Nobody Ltd” (give its name or id)."),
        (["--company", "999999"], "No company “999999” (give its name or id)."),
        (
            ["--company", "Alpha Florists", "--as", "member@alpha-florists.test"],
            "member@alpha-florists.test is not an active workflow designer of “Alpha Florists”.",
        ),
        (
            ["--company", "Alpha Florists", "--as", "designer@bravo-bakery.test"],
            "No user designer@bravo-bakery.test in “Alpha Florists”.",
        ),
        (
            ["--company", "Alpha Florists", "--workflow", "Oven repair"],
            "“Alpha Florists” has no workflow “Oven repair”.",
        ),
    ],
)
def test_import_refuses_unknown_companies_people_and_workflows(
    tenant_a: Tenant, tenant_b: Tenant, args: list[str], message: str
) -> None:
    error, _ = failing("import", str(SAMPLE), *args)
    assert str(error) == message
    assert not WorkflowDefinition.unscoped.exists()


def test_a_company_name_two_companies_share_asks_for_the_id(tenant_a: Tenant) -> None:
    twin = make_company("Alpha Florists")
    error, _ = failing("export", "Anything", "--company", "Alpha Florists")
    assert str(error) == (
        f"Several companies are called “Alpha Florists”: give the id of one ({tenant_a.company.pk}, {twin.pk})."
    )


def test_export_writes_the_draft_as_yaml_that_imports_unchanged_into_another_company(
    tenant_a: Tenant, tenant_b: Tenant, tmp_path: Path
) -> None:
    workflow = make_workflow(tenant_a.designer, "customer-complaint.yaml")
    with company_context(tenant_a.company):
        draft = workflow_bundle(workflow)
    out, _ = bundle_command("export", "customer complaint", "--company", "Alpha Florists")
    assert yaml.safe_load(out) == draft
    path = tmp_path / "complaint.yaml"
    path.write_text(out)
    bundle_command("import", str(path), "--company", "Bravo Bakery")
    moved = WorkflowDefinition.unscoped.get(company=tenant_b.company)
    with company_context(tenant_b.company):
        assert workflow_bundle(moved) == draft


def test_export_of_a_release_to_a_json_file(tenant_a: Tenant, tmp_path: Path) -> None:
    workflow = make_workflow(tenant_a.designer)
    release = make_release(tenant_a.designer, workflow)
    target = tmp_path / "release.json"
    out, _ = bundle_command(
        "export", "IT equipment request", "--company", "Alpha Florists", "--release", "1", "-o", str(target)
    )
    assert json.loads(target.read_text()) == release.bundle
    assert out == f"Wrote “IT equipment request” (release #1) to {target}.\n"


def test_export_of_a_release_that_does_not_exist_lists_those_that_do(tenant_a: Tenant) -> None:
    make_release(tenant_a.designer, make_workflow(tenant_a.designer))
    error, _ = failing("export", "IT equipment request", "--company", "Alpha Florists", "--release", "4")
    assert str(error) == "“IT equipment request” has no release #4 (its releases: 1)."


def test_export_finds_workflows_only_in_the_named_company(tenant_a: Tenant, tenant_b: Tenant) -> None:
    make_workflow(tenant_b.designer)
    error, _ = failing("export", "IT equipment request", "--company", "Alpha Florists")
    assert str(error) == "“Alpha Florists” has no workflow “IT equipment request”."
