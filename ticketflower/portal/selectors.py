"""What a person's dashboard shows: who they are and the areas their roles open."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ticketflower.accounts.models import User
from ticketflower.tenancy.models import SystemRole


@dataclass(frozen=True)
class Area:
    slug: str
    role: SystemRole
    title: str | Promise
    description: str | Promise
    icon: str

    @property
    def url(self) -> str:
        if self.slug in ADMIN_SITES:
            return reverse(f"{self.slug}:index")
        return reverse("portal:area", kwargs={"slug": self.slug})


# Areas with their own admin site; the others open a placeholder until their pages land.
ADMIN_SITES = {"design", "tickets", "worker", "company"}
AREAS: tuple[Area, ...] = (
    Area(
        "submit", SystemRole.USER, _("Submit a ticket"), _("Ask for something and follow it."), "add_circle"
    ),
    Area("worker", SystemRole.TASK_WORKER, _("My tasks"), _("The tasks assigned to you."), "task_alt"),
    Area(
        "tickets",
        SystemRole.TICKET_ADMIN,
        _("Tickets"),
        _("Every ticket and task of your company."),
        "confirmation_number",
    ),
    Area(
        "design",
        SystemRole.WORKFLOW_CREATOR,
        _("Design"),
        _("Ticket types, workflows and their tasks."),
        "account_tree",
    ),
    Area("company", SystemRole.ADMIN, _("Company"), _("People, roles and the company profile."), "apartment"),
)


def areas_for(user: User) -> list[Area]:
    return [area for area in AREAS if user.has_system_role(area.role)]


def area_for(user: User, slug: str) -> Area | None:
    """The area `slug` if `user` may open it; None alike for unknown and forbidden areas."""
    return next((area for area in areas_for(user) if area.slug == slug), None)
