"""The base of every company admin site: one site class, one ModelAdmin and one inline mixin.

Scoped default managers already keep querysets, form choices, raw-id labels, list filters
and autocomplete results to the current company. This module closes what they cannot see
(../shared/docs/admin-tenancy-pitfalls.md):

- a site opens only to active members of a company holding the site's system role; anyone
  else gets the login page (anonymous) or "not found" (logged in without the role);
- "view on site" looks the object up in the current company;
- unfold's command search never serves a result cached by another site;
- version history lists, shows, reverts and recovers only the current company's revisions,
  and checks that a version belongs to the admin's model before touching anything;
- a model or relation that is not company-scoped cannot be registered or shown.

Permissions come from the system role of the site, narrowed per admin by `allowed`.
Nothing here keeps request state on the shared ModelAdmin instance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ClassVar, cast
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ShowFacets
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.views import redirect_to_login
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import BadRequest, ImproperlyConfigured
from django.core.paginator import InvalidPage
from django.db import models
from django.forms import Field as FormField
from django.forms.fields import InvalidJSONInput
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.encoding import force_bytes
from guardian.admin import GuardedModelAdminMixin
from import_export.admin import ExportMixin, ImportExportMixin
from reversion.admin import VersionAdmin
from reversion.models import Version
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.sites import UnfoldAdminSite
from unfold.views import ChangeList

from ticketflower.accounts.models import User
from ticketflower.core.limits import MAX_JSON_DEPTH, MAX_JSON_NODES, json_within_limits
from ticketflower.core.paging import CappedPaginator, list_count_cap, past_cap
from ticketflower.core.uploads import size_text
from ticketflower.tenancy.access import get_owned_or_404
from ticketflower.tenancy.context import current_company
from ticketflower.tenancy.formats import FORMATS
from ticketflower.tenancy.managers import CompanyScopedManager
from ticketflower.tenancy.models import CompanyRevision, SystemRole
from ticketflower.tenancy.versions import company_revision, company_versions, revision_is_own

Operation = str  # "view", "add", "change" or "delete"


def is_company_scoped(model: type[models.Model]) -> bool:
    return isinstance(model._default_manager, CompanyScopedManager)


class StrictJSONFormField(forms.JSONField):
    """JSON as PostgreSQL stores it, of a size the app can handle: NaN and Infinity, and values
    nested or sized past MAX_JSON_DEPTH / MAX_JSON_NODES, are field errors, not crashes."""

    def to_python(self, value: Any) -> Any:
        parsed = value
        if isinstance(value, str) and value.strip():
            try:
                parsed = json.loads(value, parse_constant=_refuse_constant)
            except ValueError as exc:
                raise forms.ValidationError(f"Enter valid JSON: {exc}", code="invalid") from exc
            except RecursionError as exc:
                raise forms.ValidationError(
                    f"This JSON nests more than {MAX_JSON_DEPTH} levels deep.", code="too_big"
                ) from exc
        too_big = json_within_limits(parsed, max_depth=MAX_JSON_DEPTH, max_nodes=MAX_JSON_NODES)
        if too_big:
            raise forms.ValidationError(f"This JSON {too_big}.", code="too_big")
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        """A refused value is shown back as the text that was sent, never parsed again."""
        if isinstance(data, str) and not self.disabled:
            try:
                parsed = json.loads(data)
            except (ValueError, RecursionError):
                return InvalidJSONInput(data)
            if json_within_limits(parsed, max_depth=MAX_JSON_DEPTH, max_nodes=MAX_JSON_NODES):
                return InvalidJSONInput(data)
            return parsed
        return super().bound_data(data, initial)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def tenant_formfield_kwargs(
    model: type[models.Model], db_field: models.Field[Any, Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The form-field rules of every company admin and inline: scoped relations, strict JSON."""
    refuse_unscoped_relation(model, db_field)
    if isinstance(db_field, models.JSONField):
        kwargs["form_class"] = StrictJSONFormField
    return kwargs


def refuse_unscoped_relation(model: type[models.Model], db_field: models.Field[Any, Any]) -> None:
    """A form field choosing rows of a model that is not company-scoped would offer every company's rows."""
    related = db_field.related_model
    if isinstance(related, type) and issubclass(related, models.Model) and not is_company_scoped(related):
        raise ImproperlyConfigured(
            f"{model._meta.label}.{db_field.name} points at {related._meta.label}, which is not "
            "company-scoped: exclude the field from this admin."
        )


class TenantAdminSite(UnfoldAdminSite):
    """An admin site for one system role, inside the user's own company."""

    role: ClassVar[SystemRole]

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            isinstance(user, User)
            and user.is_active
            and user.company_id is not None
            and user.has_system_role(self.role)
        )

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        """Strangers go to the login page; people without this site's role get "not found"."""
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not self.has_permission(request):
                if request.user.is_authenticated:
                    raise Http404("Not found.")
                return redirect_to_login(request.get_full_path(), reverse("accounts:login"))
            return cast(HttpResponseBase, inner(request, *args, **kwargs))

        return guarded

    def dashboard(self, request: HttpRequest) -> dict[str, Any]:
        """What this site's front page shows; each role site says which numbers."""
        return {}

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().index(request, {**self.dashboard(request), **(extra_context or {})})

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.user.is_authenticated:
            raise Http404("Not found.")  # logged in, but this site is not theirs
        next_url = request.GET.get("next") or reverse(f"{self.name}:index")
        return HttpResponseRedirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("accounts:password_change"))

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        models_: list[Any] = (
            [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
        )
        for model in models_:
            if not is_company_scoped(model):
                raise ImproperlyConfigured(
                    f"{model._meta.label} is not company-scoped; it cannot be in {self.name}."
                )
            if admin_class is not None and not issubclass(admin_class, TenantModelAdminMixin):
                raise ImproperlyConfigured(f"{admin_class.__name__} must derive from TenantModelAdmin.")
        super().register(model_or_iterable, admin_class, **options)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        urls = [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]
        return [
            path(
                "r/<int:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            ),
            *urls,
        ]

    def view_on_site(self, request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
        """Django's shortcut, but the object is looked up in the current company only."""
        content_type = get_object_or_404(ContentType, pk=content_type_id)
        model = content_type.model_class()
        if model is None or model not in self._registry:
            raise Http404("Not found.")
        obj = get_owned_or_404(model, pk=object_id)
        url = getattr(obj, "get_absolute_url", None)
        if url is None:
            raise Http404("Not found.")
        return HttpResponseRedirect(url())

    def search(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # unfold caches results under user + term, shared by every site; drop that entry so a
        # result is always built by this site.
        term = (request.GET.get("s") or "").lower()
        key = hashlib.sha256(force_bytes(f"{request.user.pk}_{term}")).hexdigest()
        cache.delete(f"unfold_search_{key}")
        try:
            return super().search(request, extra_context)
        except InvalidPage as exc:
            raise BadRequest("No such page of search results.") from exc


class TenantChangeList(ChangeList):
    """unfold's list, sorted only as its indexes allow.

    Django sorts by any column an `o=` names, sortable or not; here only `sortable_by` counts.
    And an `o=` naming no sortable column leaves Django ordering by the key, which no list
    index leads with: such a list keeps its default order (newest first) instead.
    """

    def get_ordering_field(self, field_name: Any) -> Any:
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)

    def get_ordering(self, request: HttpRequest, queryset: Any) -> list[Any]:
        ordering = list(super().get_ordering(request, queryset))
        keys = ("pk", self.lookup_opts.pk.attname)
        if all(isinstance(field, str) and field.lstrip("-") in keys for field in ordering):
            default = list(self.model_admin.get_ordering(request) or self._get_default_ordering())
            return default if queryset.order_by(*default).totally_ordered else [*default, "-pk"]
        return ordering


class TenantModelAdminMixin:
    """Role-based permissions, company-scoped relations and per-company version history."""

    allowed: ClassVar[frozenset[Operation]] = frozenset({"view", "add", "change", "delete"})
    # Lists stay as fast at a million rows as at a hundred (ticketflower.core.paging): no
    # second COUNT(*) over the whole table, a count that stops at a cap, no per-choice counts
    # of every filter (facets), and pages read by key first.
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_per_page = 50
    # The only columns a list page loads for its rows (all when empty): what its columns show.
    list_columns: ClassVar[tuple[str, ...]] = ()

    model: type[models.Model]
    admin_site: TenantAdminSite

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TenantChangeList

    def response_action(self, request: HttpRequest, queryset: Any, **kwargs: Any) -> HttpResponseBase | None:
        """An action on "all N" of a list past its count's cap is refused: narrow the list first."""
        if request.POST.get("select_across") == "1" and past_cap(queryset):
            messages.error(request, f"More than {list_count_cap():,} rows are selected: {NARROW_THE_LIST}.")
            return None
        return cast(HttpResponseBase | None, super().response_action(request, queryset, **kwargs))  # type: ignore[misc]

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> CappedPaginator:
        # Also asked for by the history page, for its log entries: those take all their columns.
        columns = self.list_columns if getattr(queryset, "model", None) is self.model else ()
        return CappedPaginator(queryset, per_page, orphans, allow_empty_first_page, columns=columns)

    # --- permissions -------------------------------------------------------------------

    def _may(self, request: HttpRequest, operation: Operation, obj: Any = None) -> bool:
        if operation not in self.allowed or not self.admin_site.has_permission(request):
            return False
        if obj is None:
            return True
        if isinstance(obj, str):  # unfold's detail actions pass the pk: judge the real object
            obj = self.get_object(request, obj)  # type: ignore[attr-defined]
            if obj is None:
                raise Http404("Not found.")  # missing and another company's alike
        return self.has_object_permission(request, obj, operation)

    def has_object_permission(self, request: HttpRequest, obj: Any, operation: Operation) -> bool:
        """Narrow access to single objects (e.g. a worker's own tasks); everything by default."""
        return True

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "view", obj) or self._may(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "delete", obj)

    # --- relations ---------------------------------------------------------------------

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> FormField | None:
        kwargs = tenant_formfield_kwargs(self.model, db_field, kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]

    # --- version history (django-reversion) ---------------------------------------------

    @contextmanager
    def create_revision(self, request: HttpRequest) -> Iterator[None]:
        with company_revision(user=request.user):
            yield

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponseBase:
        # reversion lists versions by id alone: make sure the object is this company's first.
        if self.get_object(request, object_id) is None:  # type: ignore[attr-defined]
            raise Http404("Not found.")
        return cast(HttpResponseBase, super().history_view(request, object_id, extra_context))  # type: ignore[misc]

    def revision_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponseBase:
        self._own_version_or_404(version_id, object_id=object_id)
        if self.get_object(request, object_id) is None:  # type: ignore[attr-defined]
            raise Http404("Not found.")
        return cast(HttpResponseBase, super().revision_view(request, object_id, version_id, extra_context))  # type: ignore[misc]

    def recover_view(
        self, request: HttpRequest, version_id: str, extra_context: Any = None
    ) -> HttpResponseBase:
        self._own_version_or_404(version_id)
        return cast(HttpResponseBase, super().recover_view(request, version_id, extra_context))  # type: ignore[misc]

    def recoverlist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseBase:
        if not self.has_change_permission(request) or not self.has_add_permission(request):
            raise Http404("Not found.")
        return cast(HttpResponseBase, super().recoverlist_view(request, extra_context))  # type: ignore[misc]

    def _reversion_order_version_queryset(self, request: HttpRequest, queryset: Any) -> Any:
        # Every version list the admin shows (history and the recover list) passes here.
        own = queryset.filter(revision__company_revision__company=current_company())
        return super()._reversion_order_version_queryset(request, own)  # type: ignore[misc]

    def _own_version_or_404(self, version_id: str, *, object_id: str | None = None) -> Version:
        """The version, if it is of this admin's model and of a revision made in this company."""
        content_type = ContentType.objects.get_for_model(self.model)
        versions = company_versions().filter(content_type=content_type)
        if object_id is not None:
            versions = versions.filter(object_id=object_id)
        try:
            version = versions.get(pk=int(version_id))
        except (Version.DoesNotExist, ValueError, TypeError) as exc:
            raise Http404("Not found.") from exc
        if not revision_is_own(version.revision):  # what makes reversion's raw writes safe
            raise Http404("Not found.")
        return version


NARROW_THE_LIST = "narrow the list with its filters or search first"


class ExportTooBig(Exception):
    """More rows than a list counts to: an export reads them all within one request."""


class _ExportChecksMixin:
    """An export with filters the list does not know answers 400 with the reason, not 500; one
    of more rows than a list counts to goes back to the list, which says why."""

    def get_export_queryset(self, request: HttpRequest) -> Any:
        try:
            queryset = super().get_export_queryset(request)  # type: ignore[misc]
        except IncorrectLookupParameters as exc:
            raise BadRequest(f"These list filters are not understood: {exc}") from exc
        if past_cap(queryset):
            raise ExportTooBig(f"An export takes at most {list_count_cap():,} rows: {NARROW_THE_LIST}.")
        return queryset

    def export_action(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().export_action(request, *args, **kwargs)  # type: ignore[misc]
        except ExportTooBig as exc:
            messages.error(request, str(exc))
            opts = self.model._meta  # type: ignore[attr-defined]
            name = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"  # type: ignore[attr-defined]
            query = request.META.get("QUERY_STRING", "")  # the list as it was filtered
            return HttpResponseRedirect(reverse(name) + (f"?{query}" if query else ""))


class SizeCheckedImportForm(ImportForm):
    """unfold's import form; a file over IMPORT_MAX_FILE_BYTES is a form error (imports read it whole)."""

    def clean_import_file(self) -> Any:
        upload = self.cleaned_data["import_file"]
        limit = settings.IMPORT_MAX_FILE_BYTES
        if upload is not None and upload.size > limit:
            sizes = f"{size_text(upload.size)}): an import takes at most {size_text(limit)}"
            raise forms.ValidationError(f"The file is too big ({sizes}.", code="file_too_big")
        return upload


class TenantImportExportMixin(_ExportChecksMixin, ImportExportMixin):
    """CSV/XLSX/JSON import and export through a TenantResource, in unfold's forms."""

    import_form_class = SizeCheckedImportForm
    export_form_class = ExportForm
    formats = FORMATS  # spreadsheet cells exported inert (tenancy/formats.py)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


class TenantExportMixin(_ExportChecksMixin, ExportMixin):
    export_form_class = ExportForm
    formats = FORMATS

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


class TenantGuardedMixin(GuardedModelAdminMixin):
    """django-guardian's per-object permission pages, kept to the company's own people.

    Users are looked up through the scoped user manager (another company's address is
    "does not exist", another company's user id is "not found"). Groups are global in Django
    and belong to no company, so the group pickers and pages are closed.
    """

    def obj_perms_manage_group_view(
        self, request: HttpRequest, object_pk: str, group_id: str
    ) -> HttpResponse:
        raise Http404("Not found.")

    def get_obj_perms_group_select_form(self, request: HttpRequest) -> Any:
        return NoGroupForm

    def obj_perms_manage_view(self, request: HttpRequest, object_pk: str) -> Any:
        self._changeable_or_404(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request: HttpRequest, object_pk: str, user_id: str) -> Any:
        self._changeable_or_404(request, object_pk)
        get_owned_or_404(User, pk=user_id)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def _changeable_or_404(self, request: HttpRequest, object_pk: str) -> None:
        """Only someone who may change the object hands out rights on it."""
        obj = self.get_object(request, object_pk)  # type: ignore[attr-defined]
        if obj is None or not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            raise Http404("Not found.")


class NoGroupForm(forms.Form):
    group = forms.CharField(required=False, disabled=True, help_text="Groups are not used in TicketFlower.")

    def is_valid(self) -> bool:
        return False


class TenantModelAdmin(TenantModelAdminMixin, ModelAdmin):
    """The ModelAdmin of every company admin site."""


class TenantVersionAdmin(TenantModelAdminMixin, VersionAdmin, ModelAdmin):
    """A company ModelAdmin with version history: history, compare, revert and recover."""


class TenantInlineMixin:
    """Inlines follow their parent admin's role and scope their relations the same way."""

    allowed: ClassVar[frozenset[Operation]] = frozenset({"view", "add", "change", "delete"})
    admin_site: TenantAdminSite

    def _may(self, request: HttpRequest, operation: Operation) -> bool:
        return operation in self.allowed and self.admin_site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "view") or self._may(request, "change")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "delete")

    model: type[models.Model]

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> FormField | None:
        kwargs = tenant_formfield_kwargs(self.model, db_field, kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]


class TenantTabularInline(TenantInlineMixin, TabularInline):
    pass


class TenantStackedInline(TenantInlineMixin, StackedInline):
    pass


__all__ = [
    "CompanyRevision",
    "TenantAdminSite",
    "TenantExportMixin",
    "TenantGuardedMixin",
    "TenantImportExportMixin",
    "TenantModelAdmin",
    "TenantModelAdminMixin",
    "TenantStackedInline",
    "TenantTabularInline",
    "TenantVersionAdmin",
]
