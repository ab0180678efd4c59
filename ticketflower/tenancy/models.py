"""Companies, their roles and role memberships, and the base of every company-owned model."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from ticketflower.tenancy.context import CrossCompanyWrite, current_company_or_none
from ticketflower.tenancy.managers import CompanyScopedManager


class Company(models.Model):
    """A customer of TicketFlower. Everything its people make belongs to it."""

    name = models.CharField(_("name"), max_length=255)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # Company.objects is the current company alone; `unscoped` is for sign-up and platform work.
    objects = CompanyScopedManager["Company"]("pk")
    unscoped = models.Manager["Company"]()

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name


class CompanyOwnedModel(models.Model):
    """Base of every model whose rows belong to one company.

    The default manager sees only the current company's rows and raises without a company
    context. `unscoped` sees every company: keep its uses few, named and reviewed. Saving a
    row while acting for another company raises `CrossCompanyWrite`; a new row with no
    company takes the current one.
    """

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company"), editable=False
    )

    objects: ClassVar[CompanyScopedManager[Any]] = CompanyScopedManager()
    unscoped: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        guard_company_write(self)
        super().save(*args, **kwargs)


def guard_company_write(obj: Any) -> None:
    """Give a new row the current company; refuse a row of another company."""
    acting_for = current_company_or_none()
    if acting_for is None:
        return
    if obj.company_id is None:
        obj.company = acting_for
    elif obj.company_id != acting_for.pk:
        raise CrossCompanyWrite(
            f"Refusing to save {type(obj).__name__} of company {obj.company_id} "
            f"while acting for company {acting_for.pk}."
        )


class SystemRole(models.TextChoices):
    """The fixed roles that open TicketFlower's areas inside one's own company."""

    ADMIN = "admin", _("Company admin")
    USER = "user", _("User")
    TICKET_ADMIN = "ticket_admin", _("Ticket admin")
    TASK_WORKER = "task_worker", _("Task worker")
    WORKFLOW_CREATOR = "workflow_creator", _("Workflow designer")


class CompanyRole(CompanyOwnedModel):
    """A role a company defines for itself, e.g. "IT staff"; decides who may submit which ticket."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("company role")
        verbose_name_plural = _("company roles")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "company",
                Lower("name"),
                name="tenancy_companyrole_unique_name",
                violation_error_message=_("Your company already has a role with this name."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class SystemRoleAssignment(CompanyOwnedModel):
    """A user holds a system role. `company` repeats the user's, so role lists scope like the rest."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="system_role_assignments"
    )
    role = models.CharField(_("role"), max_length=32, choices=SystemRole.choices)

    class Meta:
        verbose_name = _("system role")
        verbose_name_plural = _("system roles")
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="tenancy_systemrole_unique_per_user")
        ]
        indexes = [models.Index(fields=["company", "role"])]

    def __str__(self) -> str:
        return self.get_role_display()


class CompanyRoleMembership(CompanyOwnedModel):
    """A user belongs to a company role of their own company."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="company_role_memberships"
    )
    role = models.ForeignKey(CompanyRole, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        verbose_name = _("company role membership")
        verbose_name_plural = _("company role memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="tenancy_companyrole_unique_member")
        ]

    def __str__(self) -> str:
        return str(self.role)
