"""Companies, their roles and role memberships, and the base of every company-owned model."""

from __future__ import annotations

import base64
import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from ticketflower.tenancy.constraints import company_key, owner_company_field, same_company
from ticketflower.tenancy.context import CrossCompanyWrite, current_company
from ticketflower.tenancy.managers import CompanyScopedManager


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Company(models.Model):
    """A customer of TicketFlower. Everything its people make belongs to it.

    `webhook_secret` signs every request its HTTP actions send (docs/actions.md); only the
    company's admins see it, and rotating it is `company_webhook_secret_rotate`.
    """

    name = models.CharField(_("name"), max_length=255)
    restrict_definitions = models.BooleanField(
        _("restrict definition editing"),
        default=False,
        help_text=_(
            "On: a workflow designer may change a workflow (with its tasks and ticket types) only "
            "if they created it or were given the right on its Permissions page."
        ),
    )
    webhook_secret = models.CharField(
        _("signing secret"), max_length=100, default=new_webhook_secret, editable=False
    )
    action_max_attempts = models.PositiveSmallIntegerField(
        _("HTTP action attempts"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_(
            "How many times a failing HTTP action is tried before it stops in ERROR (1 to 20). "
            "Waits between tries grow, from seconds to minutes."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # Company.objects is the current company alone; `unscoped` is for sign-up and platform work.
    objects = CompanyScopedManager["Company"]("pk")
    unscoped = models.Manager["Company"]()

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action_max_attempts__gte=1, action_max_attempts__lte=20),
                name="tenancy_company_action_max_attempts_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CompanyOwnedModel(models.Model):
    """Base of every model whose rows belong to one company.

    The default manager sees only the current company's rows and raises without a company
    context. `unscoped` sees every company: keep its uses few, named and reviewed.
    Writes need a company context too: a new row takes the current company; saving or
    deleting a row of another company, or pointing a row at another company's row, raises
    `CrossCompanyWrite`.
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

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.company_id != current_company().pk:
            raise CrossCompanyWrite(f"Refusing to delete {type(self).__name__} of another company.")
        return super().delete(*args, **kwargs)


def guard_company_write(obj: Any) -> None:
    """Check a row about to be written: it and every row it points at are the current company's.

    A new row without a company takes the current one. No company context: NoCompanyContext.
    """
    acting_for = current_company()
    if obj.company_id is None:
        obj.company = acting_for
    elif obj.company_id != acting_for.pk:
        raise CrossCompanyWrite(
            f"Refusing to save {type(obj).__name__} of company {obj.company_id} "
            f"while acting for company {acting_for.pk}."
        )
    for field in obj._meta.concrete_fields:
        is_reference = field.many_to_one or field.one_to_one
        if is_reference and field.name != "company" and owner_company_field(field.related_model):
            _guard_relation(obj, field, acting_for.pk)


def _guard_relation(obj: Any, field: Any, company_id: int) -> None:
    value = getattr(obj, field.name) if field.is_cached(obj) else getattr(obj, field.attname)
    if not reference_is_own(field, value, company_id):
        target = field.related_model.__name__
        raise CrossCompanyWrite(f"{type(obj).__name__}.{field.name} points at a {target} of another company.")


def reference_is_own(field: Any, value: Any, company_id: int) -> bool:
    """Whether foreign key `field` may hold `value` (a row, its pk or None) for company `company_id`."""
    if value is None:
        return True
    if isinstance(value, models.Model):
        return bool(getattr(value, "company_id", None) == company_id)
    owner = field.related_model._base_manager.filter(pk=value).values_list("company_id", flat=True).first()
    return bool(owner == company_id)


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
            ),
            company_key("tenancy_companyrole"),
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
            models.UniqueConstraint(fields=["user", "role"], name="tenancy_systemrole_unique_per_user"),
            *same_company("tenancy_systemrole", "user"),
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
            models.UniqueConstraint(fields=["user", "role"], name="tenancy_companyrole_unique_member"),
            *same_company("tenancy_membership", "user", "role"),
        ]

    def __str__(self) -> str:
        return str(self.role)


class CompanyRevision(CompanyOwnedModel):
    """Ties a django-reversion revision to the company it was made in.

    Version history is stored in reversion's own, company-less tables; this row is how the
    admin sites list, show and revert only the current company's revisions.
    """

    revision = models.OneToOneField(
        "reversion.Revision", on_delete=models.CASCADE, related_name="company_revision"
    )

    class Meta:
        verbose_name = _("company revision")
        verbose_name_plural = _("company revisions")

    def __str__(self) -> str:
        return f"revision {self.revision_id}"
