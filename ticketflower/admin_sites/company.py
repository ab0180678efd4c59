"""/company/: a company admin manages the company's profile, people and company roles.

Forms validate; accounts and tenancy services write (roles, availability, deactivation).
"""

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget, UnfoldAdminPasswordWidget

from ticketflower.accounts import services as account_services
from ticketflower.accounts.models import User, normalize_email
from ticketflower.accounts.selectors import company_users, email_is_taken, has_other_active_admin
from ticketflower.admin_sites.dashboards import company_dashboard
from ticketflower.admin_sites.design import confirm_page
from ticketflower.admin_sites.resources import CompanyRoleResource, UserExportResource
from ticketflower.tenancy import services as tenancy_services
from ticketflower.tenancy.access import get_owned_or_404
from ticketflower.tenancy.admin import (
    TenantAdminSite,
    TenantExportMixin,
    TenantImportExportMixin,
    TenantModelAdmin,
)
from ticketflower.tenancy.models import Company, CompanyRole, SystemRole


class CompanySite(TenantAdminSite):
    role = SystemRole.ADMIN
    settings_name = "UNFOLD_COMPANY"
    site_title = site_header = _("TicketFlower company")
    index_title = _("Company")
    index_template = "admin_sites/dashboard.html"

    def dashboard(self, request: HttpRequest) -> dict[str, Any]:
        return company_dashboard()


company_site = CompanySite(name="company")


MASKED_SECRET = "whsec_" + "•" * 16


@admin.register(Company, site=company_site)
class CompanyProfileAdmin(TenantModelAdmin):
    """The company's own profile (the scoped manager shows no other company).

    The signing secret is shown masked, with a button that reveals it; only company admins
    reach this site. It is never edited by hand, only rotated.
    """

    allowed = frozenset({"view", "change"})
    list_display = ["name", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "restrict_definitions", "created_at"]}),
        (
            _("HTTP actions"),
            {
                "fields": ["action_max_attempts", "signing_secret"],
                "description": _(
                    "Every request an HTTP action sends is signed with this secret (Standard Webhooks), "
                    "so the receiving service can check it came from TicketFlower."
                ),
            },
        ),
    ]
    readonly_fields = ["created_at", "signing_secret"]
    actions_detail = ["rotate_secret_detail"]

    class Media:
        js = ["admin_sites/secret_reveal.js"]

    @display(description=_("signing secret"))
    def signing_secret(self, obj: Company) -> SafeString:
        return format_html(
            '<code id="signing-secret" data-testid="signing-secret" data-secret="{}" data-masked="{}">'
            "{}</code> "
            '<button type="button" class="ml-2 underline" data-secret-reveal aria-controls="signing-secret" '
            'aria-pressed="false" data-reveal-label="{}" data-hide-label="{}">{}</button>',
            obj.webhook_secret,
            MASKED_SECRET,
            MASKED_SECRET,
            _("Reveal"),
            _("Hide"),
            _("Reveal"),
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        tenancy_services.company_update(
            actor=cast(User, request.user),
            name=obj.name,
            restrict_definitions=obj.restrict_definitions,
            action_max_attempts=obj.action_max_attempts,
        )

    @action(
        description=_("Rotate signing secret"), url_path="rotate-secret", icon="key", permissions=["change"]
    )
    def rotate_secret_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        company = get_owned_or_404(Company, pk=object_id)
        if request.method != "POST":
            detail = _(
                "A new secret signs every request from now on and the current one stops working at once: "
                "update the services that check the signature right after."
            )
            return confirm_page(self, request, company, _("Rotate the signing secret?"), detail=detail)
        tenancy_services.company_webhook_secret_rotate(actor=cast(User, request.user))
        messages.success(
            request, _("New signing secret made. Give it to the services that receive your actions.")
        )
        return HttpResponseRedirect(reverse("company:tenancy_company_change", args=[company.pk]))


class UserForm(forms.ModelForm):  # type: ignore[type-arg]
    """A person of the company, with their system and company roles."""

    system_roles = forms.MultipleChoiceField(
        label=_("System roles"),
        choices=SystemRole.choices,
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("Which areas of TicketFlower this person may use."),
    )
    roles = forms.ModelMultipleChoiceField(
        label=_("Company roles"),
        queryset=CompanyRole.objects.all(),
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("Decide which ticket types this person may submit."),
    )
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=UnfoldAdminPasswordWidget,
        help_text=_("New people only. Leave empty and they set one with “Forgot your password?”."),
    )

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "is_active", "is_available"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["system_roles"].initial = sorted(self.instance.system_roles)
            self.fields["roles"].initial = list(self.instance.company_roles.all())
            del self.fields["password"]

    def clean_email(self) -> str:
        email = normalize_email(str(self.cleaned_data["email"]))
        if email_is_taken(email, exclude=self.instance if self.instance.pk else None):
            raise ValidationError(account_services.EMAIL_TAKEN)
        return email

    def clean_password(self) -> str:
        password = str(self.cleaned_data.get("password") or "")
        if password:
            candidate = User(email=self.data.get("email", ""), first_name=self.data.get("first_name", ""))
            password_validation.validate_password(password, candidate)
        return password

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        stops_being_admin = SystemRole.ADMIN not in cleaned.get("system_roles", []) or not cleaned.get(
            "is_active"
        )
        if self.instance.pk and stops_being_admin and not has_other_active_admin(self.instance):
            raise ValidationError(_("A company needs at least one active admin: keep this person an admin."))
        return cleaned

    def validate_unique(self) -> None:
        """Uniqueness is checked across companies in clean_email; the scoped check would miss others."""


@admin.register(User, site=company_site)
class CompanyUserAdmin(TenantExportMixin, TenantModelAdmin):
    resource_classes = [UserExportResource]
    allowed = frozenset({"view", "add", "change"})  # people are deactivated, never deleted
    form = UserForm
    list_display = ["email", "full_name", "roles_list", "is_available", "is_active", "last_login"]
    list_filter = ["is_active", "is_available", "company_roles"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "first_name", "last_name", "password"]}),
        (_("Roles"), {"fields": ["system_roles", "roles"]}),
        (_("Status"), {"fields": ["is_active", "is_available"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.fieldsets
        return [
            (name, {"fields": [f for f in opts["fields"] if f != "password"]})
            for name, opts in self.fieldsets
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return company_users()

    @display(description=_("name"))
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    @display(description=_("system roles"))
    def roles_list(self, obj: User) -> str:
        labels = dict(SystemRole.choices)
        return ", ".join(str(labels[a.role]) for a in obj.system_role_assignments.all())

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = cast(User, request.user)
        data = form.cleaned_data
        roles = [SystemRole(role) for role in data["system_roles"]]
        try:
            if change:
                account_services.user_update_details(
                    actor=actor,
                    user=obj,
                    email=data["email"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                )
                account_services.user_set_system_roles(actor=actor, user=obj, roles=roles)
                account_services.user_set_company_roles(actor=actor, user=obj, roles=data["roles"])
                account_services.user_set_availability(actor=actor, user=obj, available=data["is_available"])
                if obj.is_active != User.objects.get(pk=obj.pk).is_active:
                    account_services.user_set_active(actor=actor, user=obj, active=data["is_active"])
            else:
                created = account_services.user_create(
                    actor=actor,
                    email=data["email"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    password=data.get("password") or None,
                    system_roles=roles,
                    company_roles=data["roles"],
                    is_available=data["is_available"],
                )
                obj.pk = created.pk
        except ValidationError as exc:  # the form checked these; a race is all that is left
            messages.error(request, "; ".join(exc.messages))
            raise

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Roles are saved by the services in save_model."""


@admin.register(CompanyRole, site=company_site)
class CompanyRoleAdmin(TenantImportExportMixin, TenantModelAdmin):
    resource_classes = [CompanyRoleResource]
    list_display = ["name", "description", "created_at"]
    search_fields = ["name", "description"]
    fields = ["name", "description"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = cast(User, request.user)
        if change:
            tenancy_services.company_role_update(
                actor=actor, role=obj, name=obj.name, description=obj.description
            )
        else:
            created = tenancy_services.company_role_create(
                actor=actor, name=obj.name, description=obj.description
            )
            obj.pk = created.pk
