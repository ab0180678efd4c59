"""Reads about definitions: drafts, their releases, and what people may submit."""

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from ticketflower.accounts.models import User
from ticketflower.definitions.bundles import (
    bundle_dump,
    bundle_sha256,
    bundle_with_defaults,
    workflow_bundle,
)
from ticketflower.definitions.models import ReleaseTicketType, WorkflowDefinition, WorkflowRelease
from ticketflower.definitions.validation import Problem, bundle_warnings, validate_bundle


def current_release(workflow: WorkflowDefinition) -> WorkflowRelease | None:
    """The release new tickets of `workflow` start from (the latest; a withdrawal offers nothing)."""
    return workflow.releases.order_by("-number").first()


def latest_releases() -> QuerySet[WorkflowRelease]:
    """Each workflow's latest release (rollbacks and withdrawals are releases too)."""
    newer = WorkflowRelease.objects.filter(workflow=OuterRef("workflow"), number__gt=OuterRef("number"))
    return WorkflowRelease.objects.filter(~Exists(newer))


@dataclass(frozen=True)
class DraftState:
    """Where a workflow's draft stands, in words a designer can act on."""

    version: int
    problems: list[Problem]
    warnings: list[Problem]
    release: WorkflowRelease | None
    differs: bool  # the draft is not what the latest release publishes
    bundle: dict[str, Any]

    @property
    def published(self) -> bool:
        return self.release is not None and not self.release.withdrawn

    def summary(self) -> str:
        if self.release is None:
            where = "Not published yet"
        elif self.release.withdrawn:
            where = f"Withdrawn (release #{self.release.number})"
        else:
            where = f"Release #{self.release.number} is live"
        if self.release is not None and not self.differs:
            draft = f"the draft (version {self.version}) is what it publishes"
        elif self.problems:
            draft = (
                f"draft version {self.version} has {len(self.problems)} problem(s) to fix before publishing"
            )
        else:
            draft = f"draft version {self.version} is ready to publish"
        return f"{where}; {draft}."


def draft_state(workflow: WorkflowDefinition) -> DraftState:
    bundle = workflow_bundle(workflow)
    release = current_release(workflow)
    return DraftState(
        version=workflow.version,
        problems=validate_bundle(bundle),
        warnings=bundle_warnings(bundle),
        release=release,
        differs=release is None or release.sha256 != bundle_sha256(bundle),
        bundle=bundle,
    )


def bundle_diff(
    before: dict[str, Any], after: dict[str, Any], *, before_name: str, after_name: str
) -> list[str]:
    """A unified diff of two bundles as their JSON text, line by line.

    A task that leaves out its assignment or worker role (a bundle written before tasks had
    them) reads as having the defaults, so only real changes show.
    """
    return list(
        difflib.unified_diff(
            bundle_dump(bundle_with_defaults(before)).splitlines(),
            bundle_dump(bundle_with_defaults(after)).splitlines(),
            fromfile=before_name,
            tofile=after_name,
            lineterm="",
        )
    )


def submittable_ticket_types(user: User) -> QuerySet[ReleaseTicketType]:
    """The published ticket types `user` may submit: those of each workflow's latest release.

    A workflow with no release, or whose latest release is a withdrawal, offers nothing. A
    ticket type open to everybody is offered to every member of the company; otherwise the
    user must hold one of the company roles it was published with.
    """
    role_ids = list(user.company_roles.values_list("pk", flat=True))
    live = latest_releases().filter(withdrawn=False)
    return (
        ReleaseTicketType.objects.filter(release__in=Subquery(live.values("pk")))
        .filter(Q(open_to_all=True) | Q(allowed_role_ids__overlap=role_ids))
        .select_related("release__workflow")
        .defer("release__bundle")
        .order_by("title")
    )


def load_release_bundles(ticket_types: Iterable[ReleaseTicketType]) -> list[ReleaseTicketType]:
    """The ticket types with their releases' bundles loaded: one query however many releases.

    `submittable_ticket_types` defers the bundle (it can be large); what needs each type's
    `spec` or its workflow's fields loads them here rather than one query per type.
    """
    ticket_types = list(ticket_types)
    release_ids = {ticket_type.release_id for ticket_type in ticket_types}
    bundles = dict(WorkflowRelease.objects.filter(pk__in=release_ids).values_list("pk", "bundle"))
    for ticket_type in ticket_types:
        ticket_type.release.bundle = bundles[ticket_type.release_id]
    return ticket_types
