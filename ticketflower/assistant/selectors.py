"""Reads for the assistant's pages: conversations, and a proposal as the artefacts a person checks."""

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import reverse

from ticketflower.assistant.gate import bundle_new_roles
from ticketflower.assistant.models import Conversation, Document, Message
from ticketflower.definitions.bundles import bundle_sha256, bundle_with_defaults, workflow_bundle
from ticketflower.definitions.fields import TYPE_LABELS
from ticketflower.definitions.models import ReleaseTicketType, WorkflowRelease
from ticketflower.definitions.selectors import bundle_diff, current_release
from ticketflower.definitions.services import TASK_DEFAULTS
from ticketflower.definitions.validation import shape_problems
from ticketflower.layouts.embed import LayoutFrame, preview_frame
from ticketflower.layouts.slots import Kind, bundle_slots
from ticketflower.tenancy.models import CompanyRole

# The submit form first (what a person checks first), then each task's two, then the overview.
LAYOUT_ORDER = {
    Kind.TICKET_EDIT: 0,
    Kind.TICKET_DISPLAY: 1,
    Kind.TASK_EDIT: 2,
    Kind.TASK_DISPLAY: 2,
    Kind.WORKFLOW_DISPLAY: 3,
}
LAYOUT_LABELS = {
    Kind.TICKET_EDIT: "Submit form: {}",
    Kind.TICKET_DISPLAY: "Ticket page: {}",
    Kind.TASK_EDIT: "Task “{}”: what the worker fills in",
    Kind.TASK_DISPLAY: "Task “{}”: what the worker sees",
    Kind.WORKFLOW_DISPLAY: "Workflow display: {}",
}


def conversations() -> QuerySet[Conversation]:
    return Conversation.objects.select_related("workflow", "created_by").defer("proposal")


def thread(conversation: Conversation) -> list[Message]:
    documents = Prefetch("documents", queryset=Document.objects.only("id", "name", "message_id", "file_id"))
    return list(
        conversation.messages.defer("proposal").prefetch_related(documents).order_by("created_at", "id")
    )


@dataclass(frozen=True)
class LayoutPreview:
    label: str
    path: str
    frame: LayoutFrame | None
    problems: list[str]
    edit_url: str = ""  # the definition's page, once the proposal is saved as it is shown


@dataclass(frozen=True)
class ProposalView:
    bundle: dict[str, Any]
    fields: list[dict[str, Any]]  # rows of the fields table
    layouts: list[LayoutPreview]
    problems: list[str]
    questions: list[str]
    new_roles: list[str]
    diff: list[str]
    diff_against: str
    shaped: bool = True  # a bundle's shape: the diagram and tables can be drawn


def proposal_view(conversation: Conversation, *, saved: bool) -> ProposalView | None:
    """The latest proposal as artefacts: fields, every layout live with sample values, the diff."""
    proposal = conversation.proposal or {}
    bundle = proposal.get("bundle")
    if not isinstance(bundle, dict):
        return None
    if shape_problems(bundle):
        # Not even the shape of a bundle (a language model's bad answer): only its problems.
        problems = list(proposal.get("problems") or []) or [str(p) for p in shape_problems(bundle)]
        return ProposalView(
            bundle, [], [], problems, list(proposal.get("questions") or []), [], [], "", False
        )
    workflow = bundle.get("workflow") or {}
    asked = {e.get("field") for t in bundle.get("ticket_types") or [] for e in t.get("fields") or []}
    writers: dict[str, list[str]] = {}
    for task in workflow.get("tasks") or []:
        for name in (task.get("output_schema") or {}).get("properties") or {}:
            writers.setdefault(name, []).append(str(task.get("title") or task.get("key")))
    fields = [
        {
            "name": f.get("name"),
            "label": f.get("label") or f.get("name"),
            "type": TYPE_LABELS.get(f.get("type"), f.get("type")),
            "options": ", ".join(f.get("options") or []),
            "required": bool(f.get("required")),
            "where": ", ".join(
                (["The form"] if f.get("name") in asked else []) + writers.get(f.get("name"), [])
            ),
        }
        for f in workflow.get("fields") or []
    ]
    layouts = []
    pages = definition_pages(conversation, bundle) if saved else {}  # saved: saved_state(...).saved
    for slot in sorted(bundle_slots(bundle), key=lambda slot: LAYOUT_ORDER[slot.kind]):
        label = LAYOUT_LABELS[slot.kind].format(slot.title)
        preview = preview_frame(bundle, slot.path, slot.effective_source())
        problems = [str(p) for p in preview.problems]
        owner = slot.path.rsplit(".", 1)[0]  # "workflow.tasks[2]", "ticket_types[0]", "workflow"
        layouts.append(LayoutPreview(label, slot.path, preview.frame, problems, pages.get(owner, "")))
    before: dict[str, Any] = {}
    against = "nothing saved yet"
    if conversation.workflow is not None:
        before = workflow_bundle(conversation.workflow)
        against = f"draft version {conversation.workflow.version}"
    before, after = comparable(before), comparable(bundle)
    roles = list(CompanyRole.objects.values_list("name", flat=True))
    return ProposalView(
        bundle=bundle,
        fields=fields,
        layouts=layouts,
        problems=list(proposal.get("problems") or []),
        questions=list(proposal.get("questions") or []),
        new_roles=bundle_new_roles(bundle, roles),
        diff=bundle_diff(before, after, before_name=against, after_name="the proposal")
        if before != after
        else [],
        diff_against=against,
    )


def comparable(bundle: dict[str, Any]) -> dict[str, Any]:
    """`bundle` as the draft would hold it once imported: every default written, keys sorted,
    tasks by key, transitions by where they start, so a diff shows only what would change."""
    if not bundle:
        return {}
    complete = bundle_with_defaults(bundle)
    workflow = complete.setdefault("workflow", {})
    for name, default in (("description", ""), ("ext_ref", []), ("fields", []), ("display_layout", "")):
        workflow[name] = workflow.get(name) or default
    workflow["fields"] = [
        {"required": False, "help_text": "", **f} if isinstance(f, dict) else f for f in workflow["fields"]
    ]
    workflow["tasks"] = sorted(
        (
            {**TASK_DEFAULTS, **{k: v for k, v in task.items() if v is not None}}
            for task in workflow.get("tasks") or []
        ),
        key=lambda task: str(task.get("key")),
    )
    workflow["transitions"] = sorted(
        (
            {
                "from": t.get("from"),
                "to": t.get("to"),
                "condition": t.get("condition") or "",
                "priority": t.get("priority", 0),
            }
            for t in workflow.get("transitions") or []
        ),
        key=lambda t: (t["from"] is not None, str(t["from"]), t["priority"], str(t["to"])),
    )
    complete["ticket_types"] = sorted(
        (
            {
                "description": "",
                "ext_ref": [],
                "edit_layout": "",
                "display_layout": "",
                **{k: v for k, v in t.items() if v is not None},
                "allowed_roles": sorted(t.get("allowed_roles") or []),
            }
            for t in complete.get("ticket_types") or []
        ),
        key=lambda t: str(t.get("title")).lower(),
    )
    complete["format"] = complete.get("format") or "ticketflower-bundle/1"
    canonical: dict[str, Any] = json.loads(json.dumps(complete, sort_keys=True))
    return canonical


def definition_pages(conversation: Conversation, bundle: dict[str, Any]) -> dict[str, str]:
    """The design site's page of each part of the saved workflow, by its place in the bundle."""
    workflow = conversation.workflow
    if workflow is None:
        return {}
    pages = {"workflow": reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])}
    tasks = dict(workflow.tasks.values_list("key", "pk"))
    for index, task in enumerate(bundle["workflow"].get("tasks") or []):
        if task.get("key") in tasks:
            pages[f"workflow.tasks[{index}]"] = reverse(
                "design:definitions_taskdefinition_change", args=[tasks[task["key"]]]
            )
    types = {title.lower(): pk for title, pk in workflow.ticket_types.values_list("title", "pk")}
    for index, ticket_type in enumerate(bundle.get("ticket_types") or []):
        pk = types.get(str(ticket_type.get("title", "")).lower())
        if pk is not None:
            pages[f"ticket_types[{index}]"] = reverse("design:definitions_ticketdefinition_change", args=[pk])
    return pages


@dataclass(frozen=True)
class SavedState:
    saved: bool  # the proposal on the page is what the draft holds (saved, nothing changed since)
    published: WorkflowRelease | None  # the release of that draft version, once published


def saved_state(conversation: Conversation) -> SavedState:
    workflow = conversation.workflow
    proposal = (conversation.proposal or {}).get("bundle")
    if workflow is None or not proposal or conversation.saved_version != workflow.version:
        return SavedState(False, None)
    if conversation.saved_sha256 != bundle_sha256(proposal):
        return SavedState(False, None)
    release = current_release(workflow)
    if release is None or release.withdrawn or release.draft_version != workflow.version:
        return SavedState(True, None)
    return SavedState(True, release)


def try_it_ticket_types(conversation: Conversation) -> list[ReleaseTicketType]:
    """The published ticket types of the conversation's workflow, to open on the portal."""
    if conversation.workflow is None:
        return []
    release = current_release(conversation.workflow)
    if release is None or release.withdrawn:
        return []
    return list(ReleaseTicketType.objects.filter(release=release).order_by("position"))
