from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from django import forms
from django.contrib.auth import forms as auth_forms
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ticketflower.accounts.models import User, normalize_email
from ticketflower.core.forms import UnfoldStyledFormMixin


class SignUpForm(UnfoldStyledFormMixin, forms.Form):
    company_name = forms.CharField(label=_("Company name"), max_length=255)
    email = forms.EmailField(label=_("Admin e-mail"), max_length=255)
    password = forms.CharField(
        label=_("Admin password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password, not only digits."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100)

    field_order = ["company_name", "first_name", "last_name", "email", "password"]

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class LoginForm(UnfoldStyledFormMixin, auth_forms.AuthenticationForm):
    username = auth_forms.UsernameField(
        label=_("E-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": _("That e-mail and password do not match an active account."),
    }


class PasswordResetForm(UnfoldStyledFormMixin, auth_forms.PasswordResetForm):
    def get_users(self, email: str) -> Iterator[Any]:
        # Unscoped: the person asking is not logged in, so there is no company yet. The page
        # answers the same whether or not an account matched. Accounts without a password yet
        # (added by a company admin) are included: this is how their owners set one.
        return iter(User.unscoped.filter(email=normalize_email(email), is_active=True))


class SetPasswordForm(UnfoldStyledFormMixin, auth_forms.SetPasswordForm[User]):
    pass


class PasswordChangeForm(UnfoldStyledFormMixin, auth_forms.PasswordChangeForm):
    pass


class ProfileForm(UnfoldStyledFormMixin, forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=255)
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Needed only to change your e-mail address."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email = cleaned.get("email")
        # A changed address is a new way into the account (password reset goes there):
        # only the password's owner may set it.
        changed = bool(email) and normalize_email(str(email)) != self.user.email
        if changed and not self.user.check_password(cleaned.get("current_password") or ""):
            self.add_error("current_password", _("Enter your current password to change your e-mail."))
        return cleaned


def _user_field(name: str) -> forms.BooleanField:
    """A checkbox labelled as the User model field `name` is."""
    field = cast(models.Field[Any, Any], User._meta.get_field(name))
    return forms.BooleanField(label=field.verbose_name, help_text=field.help_text, required=False)


class NotificationsForm(UnfoldStyledFormMixin, forms.Form):
    """Which e-mails a person wants; field names are notification_preferences_update's arguments."""

    task_assigned = _user_field("notify_task_assigned")
    pool_tasks = _user_field("notify_pool_tasks")
    ticket_finished = _user_field("notify_ticket_finished")

    @classmethod
    def initial_for(cls, user: User) -> dict[str, bool]:
        return {
            "task_assigned": user.notify_task_assigned,
            "pool_tasks": user.notify_pool_tasks,
            "ticket_finished": user.notify_ticket_finished,
        }


class ApiTokenForm(UnfoldStyledFormMixin, forms.Form):
    EXPIRY_CHOICES = [
        ("", _("Never")),
        ("30", _("In 30 days")),
        ("90", _("In 90 days")),
        ("365", _("In a year")),
    ]

    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What uses it, e.g. “backup script” or “Jo's laptop”."),
    )
    expires_in = forms.TypedChoiceField(
        label=_("Expires"), choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False
    )

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=days) if days else None
