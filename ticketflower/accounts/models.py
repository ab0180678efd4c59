"""The user: logs in with an e-mail address and belongs to one company."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ticketflower.tenancy.constraints import same_company
from ticketflower.tenancy.context import current_company_or_none
from ticketflower.tenancy.managers import CompanyScopedManager
from ticketflower.tenancy.models import (
    Company,
    CompanyOwnedModel,
    CompanyRole,
    SystemRole,
    SystemRoleAssignment,
    guard_company_write,
)


def normalize_email(email: str) -> str:
    """E-mail addresses are one login whatever their case: store and compare them lower-cased."""
    return email.strip().lower()


class UserManager(CompanyScopedManager["User"], BaseUserManager["User"]):
    """The current company's users. Logins look accounts up across companies (EmailBackend)."""

    def get_by_natural_key(self, username: str | None) -> User:
        # Inside a company (fixtures, imports): that company's users. Outside any company
        # (createsuperuser, platform commands) an e-mail names one account platform-wide.
        users = self if current_company_or_none() else User.unscoped
        return users.get(email=normalize_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        """A platform operator for /admin/: belongs to no company, so sees no company's data."""
        extra.update(is_staff=True, is_superuser=True, company=None)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    # Stored lower-cased (see save), so the plain unique index serves logins; the constraint on
    # Lower(email) keeps addresses unique whatever the case even for writes that skip save().
    email = models.EmailField(_("e-mail address"), max_length=255, unique=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    # Empty only for platform operators (superusers), never for a company's people.
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
        verbose_name=_("company"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(
        _("platform staff"), default=False, help_text=_("May use the platform's /admin/ site.")
    )
    is_available = models.BooleanField(
        _("available for tasks"),
        default=True,
        help_text=_("Task workers who are available receive newly assigned tasks."),
    )
    # Read by the engine when it decides whom to e-mail.
    notify_task_assigned = models.BooleanField(
        _("a task is assigned to me"), default=True, help_text=_("E-mail me when a task is given to me.")
    )
    notify_pool_tasks = models.BooleanField(
        _("a task I may claim is waiting"),
        default=False,
        help_text=_("E-mail me when a task that I may take enters the pool."),
    )
    notify_ticket_finished = models.BooleanField(
        _("my ticket is finished"),
        default=True,
        help_text=_("E-mail me when a ticket I submitted is completed or fails."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    company_roles = models.ManyToManyField(
        CompanyRole,
        through="tenancy.CompanyRoleMembership",
        related_name="users",
        blank=True,
        verbose_name=_("company roles"),
    )

    objects: ClassVar[UserManager] = UserManager()
    unscoped: ClassVar[models.Manager[User]] = models.Manager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_unique_email",
                violation_error_message=_("An account with this e-mail address already exists."),
            ),
            # What company-owned rows' SameCompany constraints point at (tenancy.constraints).
            models.UniqueConstraint(fields=["company", "id"], name="accounts_user_company_key"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email(self.email)
        if not self.is_platform_operator:
            guard_company_write(self)
        super().save(*args, **kwargs)

    @property
    def is_platform_operator(self) -> bool:
        """A superuser of no company: runs /admin/, never acts inside a company."""
        return self.company_id is None and self.is_superuser

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @cached_property
    def system_roles(self) -> frozenset[str]:
        """The system roles this user holds (one query, then cached on this instance)."""
        if self.pk is None or not self.is_active:
            return frozenset()
        # Unscoped on purpose: these are this user's own roles, read before any company context
        # exists (middleware, login redirects).
        return frozenset(SystemRoleAssignment.unscoped.filter(user_id=self.pk).values_list("role", flat=True))

    def has_system_role(self, role: SystemRole) -> bool:
        return role in self.system_roles


class ApiToken(CompanyOwnedModel):
    """A personal token for the JSON API: whoever sends it acts as `user`, in `user`'s company.

    Only a SHA-256 of the secret is stored (the secret has 256 random bits, so no salt or slow
    hash is needed); the secret itself is shown once, when the token is made. `prefix` is part
    of the secret too, short enough to show in lists so a person can tell tokens apart.
    A token is usable while it is neither revoked nor expired and its user is active.
    """

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=8)
    key_hash = models.CharField(_("SHA-256 of the secret"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [*same_company("accounts_apitoken", "user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def is_expired(self) -> bool:
        return self.expired(timezone.now())
