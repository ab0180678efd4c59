"""/design/: workflow designers build workflows, tasks, transitions and ticket types.

Thin admin classes: saving, validation, activation and uploads are services in
ticketflower.definitions.
"""

import difflib
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet, TextField
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.text import capfirst, slugify
from django.utils.translation import gettext_lazy as _
from reversion.models import Version
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextInputWidget

from ticketflower.accounts.models import User
from ticketflower.admin_sites.dashboards import design_dashboard
from ticketflower.admin_sites.fields_editor import WorkflowFieldsField
from ticketflower.admin_sites.resources import TaskResource, TicketTypeResource, WorkflowResource
from ticketflower.definitions import services
from ticketflower.definitions.bundles import BundleSyntaxError, bundle_dump, bundle_parse, workflow_bundle
from ticketflower.definitions.models import (
    DefinitionStatus,
    TaskDefinition,
    TicketDefinition,
    WorkflowDefinition,
    WorkflowTransition,
)
from ticketflower.definitions.validation import Problem
from ticketflower.definitions.versioning import version_bundle
from ticketflower.tenancy.access import get_owned_or_404
from ticketflower.tenancy.admin import (
    TenantAdminSite,
    TenantGuardedMixin,
    TenantImportExportMixin,
    TenantModelAdmin,
    TenantTabularInline,
    TenantVersionAdmin,
)
from ticketflower.tenancy.models import CompanyRole, SystemRole


class DesignSite(TenantAdminSite):
    role = SystemRole.WORKFLOW_CREATOR
    settings_name = "UNFOLD_DESIGN"
    site_title = site_header = _("TicketFlower design")
    index_title = _("Design")
    index_template = "admin_sites/dashboard.html"

    def dashboard(self, request: HttpRequest) -> dict[str, Any]:
        return design_dashboard()


design_site = DesignSite(name="design")


def confirm_page(admin: Any, request: HttpRequest, obj: Any, question: Any) -> HttpResponse:
    """State changes are POSTs: a detail action's link shows this page with the button."""
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.model._meta,
        "original": obj,
        "title": question,
    }
    return TemplateResponse(request, "admin_sites/confirm.html", context)


def _report(request: HttpRequest, problems: list[Problem], *, ok: str) -> None:
    if not problems:
        messages.success(request, ok)
        return
    messages.warning(
        request, _("%(count)d problem(s) to fix before this can be active:") % {"count": len(problems)}
    )
    for problem in problems[:50]:
        messages.error(request, str(problem))


class _DefinitionAdmin(TenantVersionAdmin):
    """Saving any definition records its author, bumps versions and re-validates.

    A company that restricts definition editing lets a designer change a workflow (and its
    tasks and ticket types) only with the per-object right on that workflow.
    """

    def has_object_permission(self, request: HttpRequest, obj: Any, operation: str) -> bool:
        if operation == "view":
            return True
        return services.may_edit_definition(cast(User, request.user), obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "workflow":  # new tasks and ticket types go only into editable workflows
            kwargs["queryset"] = services.editable_workflows(cast(User, request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        actor = cast(User, request.user)
        edited = [obj for formset in formsets for obj, _fields in formset.changed_objects]
        services.parts_changed(
            actor=actor, definitions=[obj for obj in edited if isinstance(obj, TaskDefinition)]
        )
        problems = services.definition_changed(actor=actor, definition=form.instance, created=not change)
        _report(request, problems, ok=str(_("The workflow validates.")))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        if not isinstance(obj, WorkflowDefinition):
            services.definition_removed(actor=cast(User, request.user), workflow=obj.workflow)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        workflows = {obj.workflow for obj in queryset} if self.model is not WorkflowDefinition else set()
        super().delete_queryset(request, queryset)
        for workflow in workflows:
            services.definition_removed(actor=cast(User, request.user), workflow=workflow)

    def revision_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> Any:
        version = self._own_version_or_404(version_id, object_id=object_id)
        return self._numbered_revert(
            request, version, super().revision_view, object_id, version_id, extra_context
        )

    def recover_view(self, request: HttpRequest, version_id: str, extra_context: Any = None) -> Any:
        version = self._own_version_or_404(version_id)
        return self._numbered_revert(request, version, super().recover_view, version_id, extra_context)

    @staticmethod
    def _numbered_revert(request: HttpRequest, version: Version, view: Any, *args: Any) -> Any:
        """Run reversion's revert view; on success, number every restored definition anew."""
        before = services.versions_before_revert(version.revision)
        response = view(request, *args)
        if request.method == "POST" and response.status_code == 302:
            services.versions_after_revert(before)
        return response


class TaskInline(TenantTabularInline):
    model = TaskDefinition
    fields = ["key", "title", "task_type"]
    extra = 0
    show_change_link = True


class TransitionFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """Offer only tasks of the workflow being edited."""

    def add_fields(self, form: forms.ModelForm, index: Any) -> None:  # type: ignore[type-arg]
        super().add_fields(form, index)
        tasks = (
            TaskDefinition.objects.filter(workflow=self.instance)
            if self.instance.pk
            else TaskDefinition.objects.none()
        )
        for name in ("from_task", "to_task"):
            field = form.fields[name]
            if isinstance(field, forms.ModelChoiceField):
                field.queryset = tasks


class TransitionInline(TenantTabularInline):
    model = WorkflowTransition
    formset = TransitionFormSet
    fk_name = "workflow"
    fields = ["from_task", "to_task", "condition", "priority"]
    formfield_overrides = {TextField: {"widget": UnfoldAdminTextInputWidget}}
    extra = 0


@admin.register(WorkflowDefinition, site=design_site)
class WorkflowAdmin(TenantGuardedMixin, TenantImportExportMixin, _DefinitionAdmin):
    resource_classes = [WorkflowResource]
    list_display = ["title", "status", "version", "task_count", "updated_at"]
    list_filter = ["status"]
    search_fields = ["title", "description"]
    readonly_fields = ["status", "version", "created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "description", "status", "version"]}),
        (_("Data fields"), {"fields": ["fields"]}),
        (_("Display"), {"fields": ["display_layout"], "classes": ["collapse"]}),
        (_("References"), {"fields": ["ext_ref", "created_by", "created_at", "updated_at"]}),
    ]
    inlines = [TaskInline, TransitionInline]
    actions = ["validate_selected"]
    actions_detail = [
        "validate_detail",
        "activate_detail",
        "deactivate_detail",
        "download_detail",
        "compare_detail",
    ]
    actions_list = ["upload_list"]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "fields":  # rows to fill in rather than JSON to type
            return WorkflowFieldsField(label=capfirst(db_field.verbose_name))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowDefinition]:
        # GROUP BY drops the model's default ordering; keep it for stable pages.
        return super().get_queryset(request).annotate(task_count=Count("tasks")).order_by("title", "pk")

    @display(description=_("Tasks"), ordering="task_count")
    def task_count(self, obj: Any) -> int:
        return int(obj.task_count)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="definitions_workflowdefinition_upload"),
            path(
                "<int:object_id>/download/",
                view(self.download_view),
                name="definitions_workflowdefinition_download",
            ),
            path(
                "<int:object_id>/compare/",
                view(self.compare_view),
                name="definitions_workflowdefinition_compare",
            ),
            *super().get_urls(),
        ]

    # --- actions ---------------------------------------------------------------------

    @action(description=_("Validate"), permissions=["view"])
    def validate_selected(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        for workflow in queryset:
            _report(
                request, services.workflow_problems(workflow), ok=f"{workflow.title}: {_('no problems.')}"
            )

    @action(description=_("Validate"), url_path="validate", icon="rule", permissions=["view"])
    def validate_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        _report(
            request,
            services.workflow_problems(workflow),
            ok=str(_("No problems: this workflow can be active.")),
        )
        return HttpResponseRedirect(
            reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
        )

    @action(description=_("Activate"), url_path="activate", icon="play_arrow", permissions=["change"])
    def activate_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        if request.method != "POST":
            return confirm_page(self, request, workflow, _("Activate this workflow?"))
        problems = services.workflow_activate(actor=cast(User, request.user), workflow=workflow)
        _report(request, problems, ok=str(_("The workflow is active.")))
        return HttpResponseRedirect(
            reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
        )

    @action(description=_("Make draft"), url_path="deactivate", icon="pause", permissions=["change"])
    def deactivate_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        if request.method != "POST":
            return confirm_page(self, request, workflow, _("Make this workflow and its ticket types drafts?"))
        services.workflow_deactivate(actor=cast(User, request.user), workflow=workflow)
        messages.success(request, _("The workflow and its ticket types are drafts now."))
        return HttpResponseRedirect(
            reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
        )

    @action(description=_("Download"), url_path="download-bundle", icon="download", permissions=["view"])
    def download_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        get_owned_or_404(WorkflowDefinition, pk=object_id)
        return HttpResponseRedirect(
            reverse("design:definitions_workflowdefinition_download", args=[object_id])
        )

    @action(
        description=_("Compare versions"),
        url_path="compare-versions",
        icon="difference",
        permissions=["view"],
    )
    def compare_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        get_owned_or_404(WorkflowDefinition, pk=object_id)
        return HttpResponseRedirect(
            reverse("design:definitions_workflowdefinition_compare", args=[object_id])
        )

    @action(description=_("Upload a bundle"), url_path="upload-bundle", icon="upload", permissions=["add"])
    def upload_list(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(reverse("design:definitions_workflowdefinition_upload"))

    # --- views -----------------------------------------------------------------------

    def download_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        as_yaml = request.GET.get("format") == "yaml"
        body = bundle_dump(workflow_bundle(workflow), as_yaml=as_yaml)
        response = HttpResponse(body, content_type="application/yaml" if as_yaml else "application/json")
        filename = f"{slugify(workflow.title)[:60] or 'workflow'}.{'yaml' if as_yaml else 'json'}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404("Not found.")
        form = BundleUploadForm(request.POST or None, request.FILES or None)
        replace_field = form.fields["replace"]
        if isinstance(replace_field, forms.ModelChoiceField):
            replace_field.queryset = services.editable_workflows(cast(User, request.user))
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Upload a workflow bundle"),
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            text, filename, replace = form.bundle_text(), form.filename(), form.cleaned_data.get("replace")
            try:
                bundle = bundle_parse(text, filename=filename)
            except BundleSyntaxError as exc:
                form.add_error(None, str(exc))
                return TemplateResponse(request, "admin_sites/bundle_upload.html", context)
            confirm = bool(form.cleaned_data.get("confirm"))
            result = services.bundle_import(
                actor=cast(User, request.user), bundle=bundle, into=replace, dry_run=not confirm
            )
            if confirm and result.ok and result.workflow is not None:
                messages.success(
                    request, _("Uploaded: %(what)s.") % {"what": ", ".join(result.created + result.updated)}
                )
                return HttpResponseRedirect(
                    reverse("design:definitions_workflowdefinition_change", args=[result.workflow.pk])
                )
            confirm_form = BundleUploadForm(
                initial={
                    "text": text,
                    "name": filename,
                    "replace": replace.pk if replace else None,
                    "confirm": True,
                }
            )
            context.update(result=result, confirm_form=confirm_form)
        return TemplateResponse(request, "admin_sites/bundle_upload.html", context)

    def compare_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        versions = list(
            self._reversion_order_version_queryset(
                request, Version.objects.get_for_object(workflow)
            ).select_related("revision__user")
        )
        chosen = [v for v in versions if str(v.pk) in {request.GET.get("a"), request.GET.get("b")}]
        diff: list[str] = []
        if len(chosen) == 2:
            older, newer = sorted(chosen, key=lambda v: v.revision.date_created)
            before = bundle_dump(version_bundle(older)).splitlines()
            after = bundle_dump(version_bundle(newer)).splitlines()
            diff = list(
                difflib.unified_diff(
                    before,
                    after,
                    fromfile=f"{older.revision.date_created:%Y-%m-%d %H:%M:%S}",
                    tofile=f"{newer.revision.date_created:%Y-%m-%d %H:%M:%S}",
                    lineterm="",
                )
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": workflow,
            "title": _("Compare versions of %(title)s") % {"title": workflow.title},
            "versions": versions,
            "chosen": [v.pk for v in chosen],
            "diff": diff,
            "compared": len(chosen) == 2,
        }
        return TemplateResponse(request, "admin_sites/compare.html", context)


MAX_BUNDLE_BYTES = 1_000_000


class BundleUploadForm(forms.Form):
    file = forms.FileField(label=_("Bundle file (.json or .yaml)"), required=False)
    text = forms.CharField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(widget=forms.HiddenInput, required=False)
    replace = forms.ModelChoiceField(
        queryset=WorkflowDefinition.objects.all(),
        required=False,
        label=_("Replace workflow"),
        help_text=_("Leave empty to create a new workflow; choose one to bring it in line with the file."),
    )
    confirm = forms.BooleanField(widget=forms.HiddenInput, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is None and not cleaned.get("text"):
            raise forms.ValidationError(_("Choose a file to upload."))
        # The confirmation step posts the text back; it must stay under Django's 2.5 MB POST limit.
        if upload is not None and upload.size > MAX_BUNDLE_BYTES:
            raise forms.ValidationError(_("A bundle may be at most 1 MB."))
        return cleaned

    def bundle_text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return str(self.cleaned_data["text"])
        try:
            return bytes(upload.read()).decode("utf-8")
        except UnicodeDecodeError:
            return "\x00"  # parsed as a syntax error with a clear message

    def filename(self) -> str:
        upload = self.cleaned_data.get("file")
        return str(upload.name if upload is not None else self.cleaned_data.get("name") or "")


@admin.register(TaskDefinition, site=design_site)
class TaskAdmin(TenantImportExportMixin, _DefinitionAdmin):
    resource_classes = [TaskResource]
    list_display = ["title", "key", "workflow", "task_type", "version", "updated_at"]
    list_filter = ["task_type", "workflow"]
    search_fields = ["title", "key", "description"]
    list_select_related = ["workflow"]
    readonly_fields = ["version", "created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["workflow", "key", "title", "task_type", "description", "version"]}),
        (_("Data"), {"fields": ["input_schema", "output_schema"]}),
        (
            _("HTTP action"),
            {"fields": ["action_url", "timeout_seconds", "input_transform", "output_transform"]},
        ),
        (_("Layouts"), {"fields": ["edit_layout", "display_layout"], "classes": ["collapse"]}),
        (_("References"), {"fields": ["ext_ref", "created_by", "created_at", "updated_at"]}),
    ]


@admin.register(TicketDefinition, site=design_site)
class TicketTypeAdmin(TenantImportExportMixin, _DefinitionAdmin):
    resource_classes = [TicketTypeResource]
    list_display = ["title", "workflow", "status", "version", "updated_at"]
    list_filter = ["status", "workflow"]
    search_fields = ["title", "description"]
    list_select_related = ["workflow"]
    filter_horizontal = ["allowed_roles"]
    readonly_fields = ["status", "version", "created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "workflow", "description", "status", "version"]}),
        (_("Form"), {"fields": ["fields", "allowed_roles"]}),
        (_("Layouts"), {"fields": ["edit_layout", "display_layout"], "classes": ["collapse"]}),
        (_("References"), {"fields": ["ext_ref", "created_by", "created_at", "updated_at"]}),
    ]
    actions_detail = ["activate_detail"]

    @action(description=_("Activate"), url_path="activate", icon="play_arrow", permissions=["change"])
    def activate_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket_type = get_owned_or_404(TicketDefinition, pk=object_id)
        if request.method != "POST":
            return confirm_page(self, request, ticket_type, _("Offer this ticket type to submitters?"))
        problems = services.ticket_type_activate(actor=cast(User, request.user), ticket_type=ticket_type)
        _report(request, problems, ok=str(_("The ticket type is active: people can submit it.")))
        return HttpResponseRedirect(
            reverse("design:definitions_ticketdefinition_change", args=[ticket_type.pk])
        )


@admin.register(CompanyRole, site=design_site)
class DesignCompanyRoleAdmin(TenantModelAdmin):
    """Designers see the company roles ticket types refer to; the company site manages them."""

    allowed = frozenset({"view"})
    list_display = ["name", "description"]
    search_fields = ["name"]


__all__ = ["DefinitionStatus", "design_site"]
