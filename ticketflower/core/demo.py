"""The demo company that `make run` loads: a user per role, printed at start-up."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from ticketflower.accounts import services as account_services
from ticketflower.accounts.models import User, normalize_email
from ticketflower.core.demo_endpoints import demo_url
from ticketflower.definitions import services as definition_services
from ticketflower.definitions.bundles import bundle_parse
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.definitions.selectors import current_release
from ticketflower.tenancy import services as tenancy_services
from ticketflower.tenancy.context import acting_as
from ticketflower.tenancy.models import CompanyRole, SystemRole

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo_company.json"
BUNDLE_DIR = Path(settings.BASE_DIR) / "fixtures" / "bundles"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    roles: tuple[str, ...]


@transaction.atomic
def demo_company_load(path: Path = DEMO_FILE) -> list[DemoLogin]:
    """Create the demo company with its published sample workflows, or bring it back; safe to repeat.

    Demo passwords are reset to the file's, so the printed logins always work.
    """
    spec: dict[str, Any] = json.loads(path.read_text())
    password: str = spec["password"]
    first, *others = spec["users"]
    admin = User.unscoped.filter(email=normalize_email(first["email"])).first()
    if admin is None:
        admin = account_services.company_sign_up(
            company_name=spec["company"],
            email=first["email"],
            password=password,
            first_name=first["first_name"],
            last_name=first["last_name"],
        )
    with acting_as(admin):
        roles = {role.name: role for role in CompanyRole.objects.all()}
        for role_spec in spec["company_roles"]:
            if role_spec["name"] not in roles:
                roles[role_spec["name"]] = tenancy_services.company_role_create(
                    actor=admin, name=role_spec["name"], description=role_spec["description"]
                )
        logins = []
        for user_spec in [first, *others]:
            user = User.objects.filter(email=normalize_email(user_spec["email"])).first()
            if user is None:
                user = account_services.user_create(
                    actor=admin,
                    email=user_spec["email"],
                    first_name=user_spec["first_name"],
                    last_name=user_spec["last_name"],
                    password=password,
                )
            else:
                user.set_password(password)
                user.is_active = True
                user.save(update_fields=["password", "is_active"])
            system_roles = [SystemRole(role) for role in user_spec["system_roles"]]
            account_services.user_set_system_roles(actor=admin, user=user, roles=system_roles)
            account_services.user_set_company_roles(
                actor=admin, user=user, roles=[roles[name] for name in user_spec["company_roles"]]
            )
            logins.append(DemoLogin(user.email, password, tuple(user_spec["system_roles"])))
        designer = User.objects.get(email=normalize_email(spec["bundles_by"]))
        for name in spec["bundles"]:
            _load_bundle(designer, BUNDLE_DIR / name)
        return logins


def _load_bundle(designer: User, path: Path) -> None:
    """Create the workflow once (matched by title) and publish it, so its tickets can be submitted."""
    bundle = bundle_parse(path.read_text(), filename=path.name)
    for task in bundle["workflow"].get("tasks") or []:
        if task.get("action_url"):
            task["action_url"] = demo_url(task["action_url"])  # the stand-ins this site serves
    workflow = WorkflowDefinition.objects.filter(title__iexact=bundle["workflow"]["title"]).first()
    release = current_release(workflow) if workflow else None
    if workflow is None or (release is not None and _action_urls(release.bundle) != _action_urls(bundle)):
        # New, or published with other action URLs (another PUBLIC_BASE_URL): load it again.
        result = definition_services.bundle_import(actor=designer, bundle=bundle, into=workflow)
        if result.workflow is None:
            raise ValueError(f"{path.name}: " + "; ".join(str(p) for p in result.problems))
        workflow, release = result.workflow, None
    if release is None:
        published = definition_services.workflow_publish(
            actor=designer, workflow=workflow, note="Demo workflow"
        )
        if not published.ok:
            raise ValueError(f"{path.name}: " + "; ".join(str(p) for p in published.problems))


def _action_urls(bundle: dict[str, Any]) -> list[str]:
    return [str(task.get("action_url") or "") for task in bundle["workflow"].get("tasks") or []]
