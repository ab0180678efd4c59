"""/design/: workflow designers build workflow drafts and publish them as releases.

Thin admin classes: recording a change, validating, publishing, rolling back and uploading
are services in ticketflower.definitions. Every page says what happened in plain words and
names each problem's place the way the page shows it.
"""

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery, TextField
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.text import capfirst, slugify
from django.utils.translation import gettext_lazy as _
from reversion.models import Version
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminTextInputWidget,
)

from ticketflower.accounts.models import User
from ticketflower.admin_sites import assistant, code_editor, layout_preview
from ticketflower.admin_sites.dashboards import design_dashboard
from ticketflower.admin_sites.fields_editor import WorkflowFieldsField
from ticketflower.admin_sites.resources import TaskResource, TicketTypeResource, WorkflowResource
from ticketflower.codetasks.checks import code_problems
from ticketflower.core.limits import MAX_BUNDLE_BYTES
from ticketflower.definitions import services
from ticketflower.definitions.bundles import BundleSyntaxError, bundle_dump, bundle_parse, workflow_bundle
from ticketflower.definitions.fields import KEY_PATTERN, MAX_KEY_LENGTH, key_from_title
from ticketflower.definitions.models import (
    TaskDefinition,
    TaskType,
    TicketDefinition,
    WorkflowDefinition,
    WorkflowRelease,
    WorkflowTransition,
)
from ticketflower.definitions.problems import problem_label
from ticketflower.definitions.selectors import DraftState, bundle_diff, current_release, draft_state
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

    def get_urls(self) -> list[URLResolver | URLPattern]:
        preview = path("layout-preview/", self.admin_view(layout_preview.preview_view), name="layout_preview")
        return [
            preview,
            *code_editor.urls(self.admin_view),
            *assistant.urls(self.admin_view),
            *super().get_urls(),
        ]


design_site = DesignSite(name="design")


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What changed, for whoever reads the release list later."),
    )


def confirm_page(
    admin: Any,
    request: HttpRequest,
    obj: Any,
    question: Any,
    *,
    detail: Any = "",
    with_note: bool = False,
    note_form: forms.Form | None = None,
) -> HttpResponse:
    """State changes are POSTs: a detail action's link shows this page with the button.

    `note_form` (a form with a `note` field) replaces the release note `with_note` asks for.
    """
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.model._meta,
        "original": obj,
        "title": question,
        "detail": detail,
        "note_form": note_form or (NoteForm() if with_note else None),
    }
    return TemplateResponse(request, "admin_sites/confirm.html", context)


def release_action(
    admin: Any,
    request: HttpRequest,
    obj: WorkflowDefinition | WorkflowRelease,
    *,
    question: Any,
    detail: Any,
    make: Callable[[User, str], services.PublishResult],
) -> HttpResponse:
    """A confirmed POST that makes a release (publish, withdraw, roll back), with an optional note.

    The page it returns to says what happened, or why nothing did.
    """
    if request.method != "POST":
        return confirm_page(admin, request, obj, question, detail=detail, with_note=True)
    note = NoteForm(request.POST)
    result = make(cast(User, request.user), note.cleaned_data["note"] if note.is_valid() else "")
    (messages.success if result.ok else messages.error)(request, result.message)
    report_problems(request, result.problems, result.bundle)
    if isinstance(obj, WorkflowRelease):  # back to the release made, or the one rolled back to
        return HttpResponseRedirect(change_url(result.release or obj))
    return HttpResponseRedirect(change_url(obj))


def report_problems(
    request: HttpRequest, problems: list[Problem], bundle: Any, *, warnings: bool = False
) -> None:
    level = messages.warning if warnings else messages.error
    for problem in problems[:50]:
        level(request, problem_label(problem, bundle))


def report_state(request: HttpRequest, state: DraftState, *, done: str, details: bool = True) -> None:
    """Say what happened, where the draft stands now, and (unless the page shows them) what is left to fix."""
    messages.success(request, f"{done} {state.summary()}")
    if details:
        report_problems(request, state.problems, state.bundle)
        report_problems(request, state.warnings, state.bundle, warnings=True)


def change_url(obj: Any) -> str:
    return reverse(f"design:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


class _DefinitionAdmin(TenantVersionAdmin):
    """Saving or deleting anything of a workflow records one revision of its draft.

    A company that restricts definition editing lets a designer change a workflow (and its
    tasks and ticket types) only with the per-object right on that workflow.
    """

    def has_object_permission(self, request: HttpRequest, obj: Any, operation: str) -> bool:
        if operation == "view":
            return True
        return services.may_edit_definition(cast(User, request.user), obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        layout_preview.aim_previews(form, obj)  # a class made for this request: ours to change
        code_editor.aim_try(form, obj)
        return form

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in layout_preview.LAYOUT_FIELDS:
            return layout_preview.layout_formfield(db_field)
        if db_field.name == "code":
            return code_editor.code_formfield(db_field)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "workflow":  # new tasks and ticket types go only into editable workflows
            kwargs["queryset"] = services.editable_workflows(cast(User, request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @staticmethod
    def _workflow(obj: Any) -> WorkflowDefinition:
        return obj if isinstance(obj, WorkflowDefinition) else obj.workflow

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        created = not change and isinstance(obj, WorkflowDefinition)
        state = services.workflow_save(
            actor=cast(User, request.user), workflow=self._workflow(obj), created=created
        )
        # Staying on the workflow's page, its status panel lists the problems and warnings.
        stays = isinstance(obj, WorkflowDefinition) and "_continue" in request.POST
        done = str(_("Saved as draft version %(n)d.") % {"n": state.version})
        report_state(request, state, done=done, details=not stays)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        if not isinstance(obj, WorkflowDefinition):
            self._part_deleted(request, obj.workflow)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        workflows = {obj.workflow for obj in queryset} if self.model is not WorkflowDefinition else set()
        super().delete_queryset(request, queryset)
        for workflow in workflows:
            self._part_deleted(request, workflow)

    @staticmethod
    def _part_deleted(request: HttpRequest, workflow: WorkflowDefinition) -> None:
        state = services.workflow_save(
            actor=cast(User, request.user), workflow=workflow, comment="Deleted a part"
        )
        report_state(
            request,
            state,
            done=str(_("“%(w)s” is draft version %(n)d now.") % {"w": workflow, "n": state.version}),
        )


# --- the workflow page: tasks and transitions in one form, saved at once ---------------------


class TaskKeyField(forms.CharField):
    """A task key a person may leave empty (it is made from the title) or type in plain words."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_KEY_LENGTH)
        kwargs.setdefault(
            "help_text", _("Short name transitions use. Leave empty to make it from the title.")
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        key = str(super().clean(value) or "").strip()
        if key and not KEY_PATTERN.match(key):
            raise forms.ValidationError(
                _("A key has only letters, digits, - and _ (no spaces): try “%(key)s”.")
                % {"key": key_from_title(key)}
            )
        return key


class TaskForm(forms.ModelForm):  # type: ignore[type-arg]
    """A task row: an empty key is made from the title, unlike every other key of the workflow."""

    key = TaskKeyField(label=_("Key"))

    class Meta:
        model = TaskDefinition
        fields = ["workflow", "key", "title", "task_type", "assignment", "worker_role"]

    def __init__(self, *args: Any, claimed: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.claimed = claimed
        if "assignment" in self.fields:  # a post without it keeps the task's (Django skips omitted defaults)
            self.fields["assignment"].required = False
        if "worker_role" in self.fields:
            self.fields["worker_role"].empty_label = _("Any task worker")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        code_field = "code" in self.fields and "code" not in self.errors
        if code_field and cleaned.get("task_type") == TaskType.CODE and not cleaned.get("code"):
            self.add_error("code", str(code_problems("")[0]))
        if not cleaned.get("key") and cleaned.get("title"):
            taken = self.claimed if self.claimed is not None else self._keys_of(cleaned.get("workflow"))
            cleaned["key"] = key_from_title(str(cleaned["title"]), taken=taken)
            taken.add(cleaned["key"])
        return cleaned

    def _keys_of(self, workflow: WorkflowDefinition | None) -> set[str]:
        if workflow is None:
            return set()
        tasks = TaskDefinition.objects.filter(workflow=workflow).exclude(pk=self.instance.pk)
        return set(tasks.values_list("key", flat=True))


class TaskFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keys made from titles avoid every key of the workflow and every key typed on the page.
        claimed = set(self.get_queryset().values_list("key", flat=True)) if self.instance.pk else set()
        claimed |= {
            str(value).strip()
            for name, value in (self.data or {}).items()
            if name.startswith(f"{self.prefix}-") and name.endswith("-key") and value
        }
        self._claimed = claimed

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "claimed": self._claimed}

    def task_keys(self) -> dict[str, str]:
        """Every task this page will leave, by key and by lower-cased title: what transitions may name."""
        names: dict[str, str] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            key = str(data.get("key") or form.instance.key or "")
            if key:
                names[key.lower()] = key
                names.setdefault(str(data.get("title") or "").strip().lower(), key)
        return names


class TaskInline(TenantTabularInline):
    model = TaskDefinition
    form = TaskForm
    formset = TaskFormSet
    fields = ["key", "title", "task_type", "assignment", "worker_role"]
    extra = 0
    show_change_link = True


TASK_LIST_ID = "workflow-task-keys"


class TransitionForm(forms.ModelForm):  # type: ignore[type-arg]
    """A transition names its tasks by key or title, so tasks added on the same page can be used at once."""

    source = forms.CharField(
        label=_("From"),
        required=False,
        max_length=255,
        help_text=_("Empty: where the workflow starts."),
        widget=UnfoldAdminTextInputWidget(attrs={"list": TASK_LIST_ID, "placeholder": _("Start")}),
    )
    target = forms.CharField(
        label=_("To"), max_length=255, widget=UnfoldAdminTextInputWidget(attrs={"list": TASK_LIST_ID})
    )

    class Meta:
        model = WorkflowTransition
        fields = ["condition", "priority"]
        widgets = {"condition": UnfoldAdminTextInputWidget}

    def __init__(self, *args: Any, task_keys: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task_keys = task_keys
        if self.instance.pk:
            self.initial.setdefault("source", self.instance.from_task.key if self.instance.from_task else "")
            self.initial.setdefault("target", self.instance.to_task.key)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        names = self.task_keys() if self.task_keys is not None else {}
        for name in ("source", "target"):
            typed = str(cleaned.get(name) or "").strip()
            if not typed:
                continue
            key = names.get(typed.lower())
            if key is None:
                self.add_error(
                    name,
                    _("No task “%(name)s” in this workflow: type a task's key or title, or pick one.")
                    % {"name": typed},
                )
            else:
                cleaned[name] = key
        return cleaned


class TransitionFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """Transitions are saved after the tasks of the same page, so they can point at new tasks."""

    task_formset: TaskFormSet | None = None

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "task_keys": self._task_keys}

    def _task_keys(self) -> dict[str, str]:
        if self.task_formset is not None:
            self.task_formset.is_valid()  # cleans the task rows first (cached)
            return self.task_formset.task_keys()
        tasks = TaskDefinition.objects.filter(workflow=self.instance) if self.instance.pk else []
        names = {task.title.strip().lower(): task.key for task in tasks}
        return names | {task.key.lower(): task.key for task in tasks}

    def save_new(self, form: Any, commit: bool = True) -> Any:
        self._resolve(form)
        return super().save_new(form, commit)

    def save_existing(self, form: Any, obj: Any, commit: bool = True) -> Any:
        self._resolve(form)
        return super().save_existing(form, obj, commit)

    def _resolve(self, form: Any) -> None:
        tasks = {task.key: task for task in TaskDefinition.objects.filter(workflow=self.instance)}
        source = form.cleaned_data.get("source")
        form.instance.from_task = tasks[source] if source else None
        form.instance.to_task = tasks[form.cleaned_data["target"]]


class TransitionInline(TenantTabularInline):
    model = WorkflowTransition
    form = TransitionForm
    formset = TransitionFormSet
    fk_name = "workflow"
    fields = ["source", "target", "condition", "priority"]
    formfield_overrides = {TextField: {"widget": UnfoldAdminTextInputWidget}}
    extra = 0


def _own_workflow_view(object_id: str, name: str) -> HttpResponse:
    """A detail action that opens one of the workflow's own pages (after checking it is ours)."""
    get_owned_or_404(WorkflowDefinition, pk=object_id)
    return HttpResponseRedirect(reverse(f"design:definitions_workflowdefinition_{name}", args=[object_id]))


def latest_release_column(name: str) -> Subquery:
    latest = WorkflowRelease.objects.filter(workflow=OuterRef("pk")).order_by("-number")
    return Subquery(latest.values(name)[:1])


@admin.register(WorkflowDefinition, site=design_site)
class WorkflowAdmin(TenantGuardedMixin, TenantImportExportMixin, _DefinitionAdmin):
    resource_classes = [WorkflowResource]
    list_display = ["title", "published", "version", "unpublished_changes", "task_count", "updated_at"]
    search_fields = ["title", "description"]
    readonly_fields = ["version", "created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "description", "version"]}),
        (_("Data fields"), {"fields": ["fields"]}),
        (_("Display"), {"fields": ["display_layout"], "classes": ["collapse"]}),
        (_("References"), {"fields": ["ext_ref", "created_by", "created_at", "updated_at"]}),
    ]
    inlines = [TaskInline, TransitionInline]
    change_form_before_template = "admin_sites/workflow_status.html"
    change_form_after_template = "admin_sites/workflow_after.html"
    actions = ["validate_selected"]

    class Media:
        js = ["admin_sites/workflow_tasks.js"]

    actions_detail = [
        "publish_detail",
        "validate_detail",
        "release_diff_detail",
        "withdraw_detail",
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
        return (
            super()
            .get_queryset(request)
            .annotate(
                task_count=Count("tasks"),
                release_number=latest_release_column("number"),
                release_withdrawn=latest_release_column("withdrawn"),
                release_draft_version=latest_release_column("draft_version"),
            )
            .order_by("title", "pk")
        )

    @display(description=_("Tasks"), ordering="task_count")
    def task_count(self, obj: Any) -> int:
        return int(obj.task_count)

    @display(description=_("Published"), ordering="release_number")
    def published(self, obj: Any) -> str:
        if obj.release_number is None:
            return str(_("Not yet"))
        if obj.release_withdrawn:
            return str(_("Withdrawn (#%(n)d)") % {"n": obj.release_number})
        return str(_("Release #%(n)d") % {"n": obj.release_number})

    @display(description=_("Unpublished changes"))
    def unpublished_changes(self, obj: Any) -> str:
        # Cheap for a list: the draft changed since the version the latest release came from.
        # The workflow's own page compares the bundles exactly.
        if obj.release_draft_version is None:
            return str(_("All of it"))
        return str(_("Yes")) if obj.release_draft_version != obj.version else "—"

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """A published workflow is kept by its releases, which Django lists as protected.

        Nobody may delete a release, so Django would also say "no permission to delete
        releases" — and show that instead of the real reason.
        """
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return to_delete, counts, set(perms_needed) - {str(WorkflowRelease._meta.verbose_name)}, protected

    def _create_formsets(self, request: HttpRequest, obj: Any, change: bool) -> Any:
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        tasks = next((f for f in formsets if isinstance(f, TaskFormSet)), None)
        for formset in formsets:
            if isinstance(formset, TransitionFormSet):
                formset.task_formset = tasks
        return formsets, inline_instances

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        workflow = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if workflow is not None:
            state = draft_state(workflow)
            context.update(
                draft=state,
                draft_problems=[problem_label(p, state.bundle) for p in state.problems],
                draft_warnings=[problem_label(p, state.bundle) for p in state.warnings],
                releases=list(workflow.releases.select_related("published_by").defer("bundle")[:20]),
                task_choices=[(t["key"], t["title"]) for t in state.bundle["workflow"]["tasks"]],
            )
        return super().change_view(request, object_id, form_url, context)

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
            path(
                "<int:object_id>/release-diff/",
                view(self.release_diff_view),
                name="definitions_workflowdefinition_release_diff",
            ),
            *super().get_urls(),
        ]

    # --- actions ---------------------------------------------------------------------

    @action(description=_("Validate"), permissions=["view"])
    def validate_selected(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        for workflow in queryset:
            state = draft_state(workflow)
            report_state(request, state, done=f"{workflow.title}:")

    @action(description=_("Validate"), url_path="validate", icon="rule", permissions=["view"])
    def validate_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        report_state(request, draft_state(workflow), done=str(_("Checked the draft.")))
        return HttpResponseRedirect(change_url(workflow))

    @action(description=_("Publish"), url_path="publish", icon="rocket_launch", permissions=["change"])
    def publish_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        detail = _(
            "Publishing freezes draft version %(n)d as the next release. New tickets run it; tickets "
            "already running keep the release they started with."
        ) % {"n": workflow.version}
        return release_action(
            self,
            request,
            workflow,
            question=_("Publish this workflow?"),
            detail=detail,
            make=lambda actor, note: services.workflow_publish(actor=actor, workflow=workflow, note=note),
        )

    @action(description=_("Withdraw"), url_path="withdraw", icon="pause", permissions=["change"])
    def withdraw_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        detail = _(
            "Its ticket types are no longer offered to submitters. Tickets already running go on. "
            "Publish again to offer them again."
        )
        return release_action(
            self,
            request,
            workflow,
            question=_("Withdraw this workflow?"),
            detail=detail,
            make=lambda actor, note: services.workflow_withdraw(actor=actor, workflow=workflow, note=note),
        )

    @action(
        description=_("Draft vs. release"), url_path="release-diff", icon="difference", permissions=["view"]
    )
    def release_diff_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return _own_workflow_view(object_id, "release_diff")

    @action(description=_("Download"), url_path="download-bundle", icon="download", permissions=["view"])
    def download_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return _own_workflow_view(object_id, "download")

    @action(
        description=_("Compare versions"),
        url_path="compare-versions",
        icon="history",
        permissions=["view"],
    )
    def compare_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return _own_workflow_view(object_id, "compare")

    @action(description=_("Upload a bundle"), url_path="upload-bundle", icon="upload", permissions=["add"])
    def upload_list(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(reverse("design:definitions_workflowdefinition_upload"))

    # --- views -----------------------------------------------------------------------

    def download_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        return bundle_download(workflow_bundle(workflow), workflow.title, request)

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
            if confirm and result.ok and result.workflow is not None and result.state is not None:
                what = ", ".join(result.created + result.updated)
                report_state(
                    request, result.state, done=str(_("Uploaded into the draft: %(what)s.") % {"what": what})
                )
                return HttpResponseRedirect(change_url(result.workflow))
            confirm_form = BundleUploadForm(
                initial={
                    "text": text,
                    "name": filename,
                    "replace": replace.pk if replace else None,
                    "confirm": True,
                }
            )
            context.update(
                result=result,
                confirm_form=confirm_form,
                problems=[(p.path, problem_label(p, bundle)) for p in result.problems],
                warnings=[problem_label(p, bundle) for p in (result.state.warnings if result.state else [])],
            )
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
            diff = bundle_diff(
                version_bundle(older),
                version_bundle(newer),
                before_name=f"{older.revision.date_created:%Y-%m-%d %H:%M:%S}",
                after_name=f"{newer.revision.date_created:%Y-%m-%d %H:%M:%S}",
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

    def release_diff_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """What publishing the draft now would change, against the latest release."""
        workflow = get_owned_or_404(WorkflowDefinition, pk=object_id)
        release = current_release(workflow)
        draft = workflow_bundle(workflow)
        diff = bundle_diff(
            release.bundle if release else {},
            draft,
            before_name=f"release #{release.number}" if release else "nothing published",
            after_name=f"draft version {workflow.version}",
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": workflow,
            "title": _("Draft of %(title)s against its release") % {"title": workflow.title},
            "diff": diff,
            "compared": True,
        }
        return TemplateResponse(request, "admin_sites/compare.html", context)


def bundle_download(bundle: dict[str, Any], title: str, request: HttpRequest) -> HttpResponse:
    as_yaml = request.GET.get("format") == "yaml"
    body = bundle_dump(bundle, as_yaml=as_yaml)
    response = HttpResponse(body, content_type="application/yaml" if as_yaml else "application/json")
    filename = f"{slugify(title)[:60] or 'workflow'}.{'yaml' if as_yaml else 'json'}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class BundleUploadForm(forms.Form):
    file = forms.FileField(label=_("Bundle file (.json or .yaml)"), required=False)
    text = forms.CharField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(widget=forms.HiddenInput, required=False)
    replace = forms.ModelChoiceField(
        queryset=WorkflowDefinition.objects.all(),
        required=False,
        label=_("Replace workflow"),
        help_text=_(
            "Leave empty to create a new workflow; choose one to bring its draft in line with the file. "
            "Nothing is published until you publish."
        ),
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


@admin.register(WorkflowRelease, site=design_site)
class WorkflowReleaseAdmin(TenantModelAdmin):
    """Releases are read, rolled back to, downloaded or loaded into the draft; never edited."""

    allowed = frozenset({"view"})
    list_display = ["__str__", "kind", "published_by", "published_at", "note"]
    list_filter = ["workflow", "withdrawn"]
    search_fields = ["workflow__title", "note"]
    list_select_related = ["workflow", "published_by", "rolled_back_to"]
    fields = [
        "workflow",
        "number",
        "kind",
        "draft_version",
        "published_by",
        "published_at",
        "note",
        "sha256",
    ]
    readonly_fields = fields
    change_form_after_template = "admin_sites/release_after.html"
    actions_detail = ["rollback_detail", "edit_from_detail", "download_detail"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowRelease]:
        # Lists never load the frozen bundles.
        return super().get_queryset(request).defer("bundle")

    @display(description=_("kind"))
    def kind(self, obj: WorkflowRelease) -> str:
        if obj.withdrawn:
            return str(_("Withdrawal"))
        if obj.rolled_back_to_id:
            return str(_("Rollback to #%(n)d") % {"n": obj.rolled_back_to.number})  # type: ignore[union-attr]
        return str(_("Publication"))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        release = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if release is not None:
            previous = (
                WorkflowRelease.objects.filter(workflow=release.workflow, number__lt=release.number)
                .order_by("-number")
                .first()
            )
            context.update(
                bundle=release.bundle,
                has_previous=previous is not None,
                bundle_text=bundle_dump(release.bundle, as_yaml=True),
                diff=bundle_diff(
                    previous.bundle if previous else {},
                    release.bundle,
                    before_name=f"release #{previous.number}" if previous else "nothing published",
                    after_name=f"release #{release.number}",
                ),
            )
        return super().change_view(request, object_id, form_url, context)

    def _editable_release(self, request: HttpRequest, object_id: str) -> WorkflowRelease:
        release = get_owned_or_404(WorkflowRelease, pk=object_id)
        if not services.may_edit_definition(cast(User, request.user), release.workflow):
            raise Http404("Not found.")
        return release

    @action(
        description=_("Roll back to this release"), url_path="rollback", icon="undo", permissions=["view"]
    )
    def rollback_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        release = self._editable_release(request, object_id)
        detail = _(
            "Its bundle is published again as the next release; new tickets run it. The draft stays as it is."
        )
        return release_action(
            self,
            request,
            release,
            question=_("Roll back to this release?"),
            detail=detail,
            make=lambda actor, note: services.release_rollback(actor=actor, release=release, note=note),
        )

    @action(
        description=_("Edit from this release"), url_path="edit-from", icon="edit_note", permissions=["view"]
    )
    def edit_from_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        release = self._editable_release(request, object_id)
        if request.method != "POST":
            detail = _(
                "The draft becomes this release's bundle, as a new draft version. Nothing is published."
            )
            return confirm_page(self, request, release, _("Set the draft to this release?"), detail=detail)
        result = services.draft_from_release(actor=cast(User, request.user), release=release)
        if result.ok and result.state is not None:
            report_state(
                request, result.state, done=str(_("The draft is release #%(n)d's.") % {"n": release.number})
            )
        report_problems(request, result.problems, release.bundle)
        return HttpResponseRedirect(change_url(release.workflow))

    @action(description=_("Download"), url_path="download", icon="download", permissions=["view"])
    def download_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        release = get_owned_or_404(WorkflowRelease, pk=object_id)
        return bundle_download(release.bundle, f"{release.workflow.title}-release-{release.number}", request)


@admin.register(TaskDefinition, site=design_site)
class TaskAdmin(TenantImportExportMixin, _DefinitionAdmin):
    resource_classes = [TaskResource]
    form = TaskForm
    list_display = ["title", "key", "workflow", "task_type", "assignment", "worker_role", "updated_at"]
    list_filter = ["task_type", "workflow"]
    search_fields = ["title", "key", "description"]
    list_select_related = ["workflow", "worker_role"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["workflow", "title", "key", "task_type", "description"]}),
        (_("Who does it"), {"fields": ["assignment", "worker_role"]}),
        (_("Data"), {"fields": ["input_schema", "output_schema"]}),
        (_("Code"), {"fields": ["code"]}),
        (_("HTTP action"), {"fields": ["action_url", "input_transform", "output_transform"]}),
        (_("Time limit"), {"fields": ["timeout_seconds"]}),
        (_("Layouts"), {"fields": ["edit_layout", "display_layout"], "classes": ["collapse"]}),
        (_("References"), {"fields": ["ext_ref", "created_by", "created_at", "updated_at"]}),
    ]


class TicketTypeForm(forms.ModelForm):  # type: ignore[type-arg]
    """Who may submit is chosen from the company's roles; the links are written with the ticket type."""

    roles = forms.ModelMultipleChoiceField(
        label=_("Who may submit"),
        queryset=CompanyRole.objects.all(),
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("Company roles whose members may submit this ticket type. None ticked: everybody."),
    )

    class Meta:
        model = TicketDefinition
        fields = ["title", "workflow", "description", "fields", "edit_layout", "display_layout", "ext_ref"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["roles"].initial = list(self.instance.allowed_roles.all())


@admin.register(TicketDefinition, site=design_site)
class TicketTypeAdmin(TenantImportExportMixin, _DefinitionAdmin):
    resource_classes = [TicketTypeResource]
    form = TicketTypeForm
    list_display = ["title", "workflow", "updated_at"]
    list_filter = ["workflow"]
    search_fields = ["title", "description"]
    list_select_related = ["workflow"]
    readonly_fields = ["publication", "created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "workflow", "description", "publication"]}),
        (_("Form"), {"fields": ["fields", "roles"]}),
        (_("Layouts"), {"fields": ["edit_layout", "display_layout"], "classes": ["collapse"]}),
        (_("References"), {"fields": ["ext_ref", "created_by", "created_at", "updated_at"]}),
    ]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        form.instance.allowed_roles.set(form.cleaned_data["roles"])
        super().save_related(request, form, formsets, change)

    @display(description=_("Published"))
    def publication(self, obj: TicketDefinition) -> str:
        """What submitters see of this ticket type: the workflow's latest release decides."""
        release = current_release(obj.workflow) if obj.pk else None
        if release is None:
            return str(_("Not yet: publish its workflow to offer it."))
        if release.withdrawn:
            return str(_("No: its workflow is withdrawn (release #%(n)d).") % {"n": release.number})
        offered = release.ticket_types.filter(title__iexact=obj.title).exists()
        if offered:
            return str(_("Offered by release #%(n)d of its workflow.") % {"n": release.number})
        return str(_("Not in release #%(n)d: publish its workflow to offer it.") % {"n": release.number})


@admin.register(CompanyRole, site=design_site)
class DesignCompanyRoleAdmin(TenantModelAdmin):
    """Designers see the company roles ticket types refer to; the company site manages them."""

    allowed = frozenset({"view"})
    list_display = ["name", "description"]
    search_fields = ["name"]


__all__ = ["design_site"]
