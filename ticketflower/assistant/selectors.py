"""Reads for the assistant's pages: conversations, and a proposal as the artefacts a person checks."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from ticketflower.assistant.models import Conversation, Document, Message
from ticketflower.definitions.bundles import workflow_bundle
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.definitions.selectors import bundle_diff, current_release
from ticketflower.layouts.embed import LayoutFrame, preview_frame
from ticketflower.layouts.slots import Kind, bundle_slots

FIELD_TYPE_LABELS = {
    "text": "Short text", "long_text": "Long text", "number": "Number", "integer": "Whole number",
    "boolean": "Yes / no", "date": "Date", "datetime": "Date and time", "email": "E-mail",
    "url": "Link", "choice": "One of", "multi_choice": "Several of", "file": "File",
}  # fmt: skip


LAYOUT_ORDER = [
    Kind.TICKET_EDIT,
    Kind.TICKET_DISPLAY,
    Kind.TASK_EDIT,
    Kind.WORKFLOW_DISPLAY,
    Kind.TASK_DISPLAY,
]


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


def proposal_view(conversation: Conversation) -> ProposalView | None:
    """The latest proposal as artefacts: fields, every layout live with sample values, the diff."""
    proposal = conversation.proposal or {}
    bundle = proposal.get("bundle")
    if not isinstance(bundle, dict):
        return None
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
            "type": FIELD_TYPE_LABELS.get(str(f.get("type")), f.get("type")),
            "options": ", ".join(f.get("options") or []),
            "required": bool(f.get("required")),
            "where": ", ".join(
                (["The form"] if f.get("name") in asked else []) + writers.get(f.get("name"), [])
            ),
        }
        for f in workflow.get("fields") or []
    ]
    layouts = []
    shown = [slot for slot in bundle_slots(bundle) if slot.kind is not Kind.TASK_DISPLAY]
    # The submit form first: what a person checks first; what a task reads shows in the forms that wrote it.
    for slot in sorted(shown, key=lambda slot: LAYOUT_ORDER.index(slot.kind)):
        label = {
            Kind.TICKET_EDIT: "Submit form: {}",
            Kind.TICKET_DISPLAY: "Ticket page: {}",
            Kind.TASK_EDIT: "Task: {}",
            Kind.WORKFLOW_DISPLAY: "Workflow display: {}",
        }[slot.kind].format(slot.title)
        preview = preview_frame(bundle, slot.path, slot.effective_source())
        layouts.append(LayoutPreview(label, slot.path, preview.frame, [str(p) for p in preview.problems]))
    if conversation.workflow is not None:
        release = current_release(conversation.workflow)
        before = workflow_bundle(conversation.workflow)
        against = f"draft version {conversation.workflow.version}"
        if release is not None and conversation.saved_version == conversation.workflow.version:
            before, against = release.bundle, f"release #{release.number}"
    else:
        before, against = {}, "nothing saved yet"
    return ProposalView(
        bundle=bundle,
        fields=fields,
        layouts=layouts,
        problems=list(proposal.get("problems") or []),
        questions=list(proposal.get("questions") or []),
        new_roles=list(proposal.get("new_roles") or []),
        diff=bundle_diff(before, bundle, before_name=against, after_name="the proposal")
        if before != bundle
        else [],
        diff_against=against,
    )


def try_it_ticket_types(conversation: Conversation) -> list[ReleaseTicketType]:
    """The published ticket types of the conversation's workflow, to open on the portal."""
    if conversation.workflow is None:
        return []
    release = current_release(conversation.workflow)
    if release is None or release.withdrawn:
        return []
    return list(ReleaseTicketType.objects.filter(release=release).order_by("position"))
