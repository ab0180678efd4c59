"""Two companies' work, made alike: B's with the marker in every text a page could show, A's without.

`make_work` builds the same things for either company — a workflow uploaded from a sample
bundle and edited (draft revisions with comments), two publications and a rollback (release
notes), a role link, a task only that role works on, a running and a finished ticket (ticket,
run and task data), a file, an API token — so every page A can open has a counterpart aimed
at B. For B the bundle is rewritten first (`mark_bundle`): free text gets "Bravo …",
identifiers (task keys, field names) get "bravo_",
and everything that refers to them (transitions, conditions, schemas, ticket-type fields)
follows, so the bundle still validates and publishes.

`snapshot` is what "B's data" means when the probe checks that nothing of B's changed.
"""

import copy
import json
import re
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import UserObjectPermission
from reversion.models import Version

from conftest import Tenant
from tests.factories import load_bundle, make_ticket
from ticketflower.accounts.services import api_token_create
from ticketflower.assistant.models import Conversation, Document, Message
from ticketflower.codetasks.models import CodeTrial
from ticketflower.definitions.bundles import bundle_sha256
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.definitions.services import bundle_import, release_rollback, workflow_publish
from ticketflower.files.models import FileUpload
from ticketflower.runtime.models import TaskStatus, WorkflowStatus
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company

MARKER = "bravo"  # B's company name and e-mail domain carry it too ("Bravo Bakery")
SAMPLE_BUNDLE = "it-equipment-request.yaml"

# Bundle values that are names from a fixed list (types, formats), not text anyone typed.
_FIXED = {"type", "format", "task_type", "assignment"}
_DATA_REFERENCE = re.compile(r"\bdata\.([a-z][a-z0-9_]*)")


def mark_bundle(bundle: dict[str, Any], role_name: str, marker: str = MARKER) -> dict[str, Any]:
    """`bundle` with the marker in every string, still valid: identifiers and references renamed alike.

    Free text becomes "<Marker> text"; task keys and field names become "<marker>_key" (still
    identifiers); transitions, conditions (`data.x`), JSON schemas and ticket-type fields follow
    the new names; links get a marked path; ticket types are open to `role_name` only.
    """
    marked = copy.deepcopy(bundle)
    spec = marked["workflow"]
    names = {f["name"]: f"{marker}_{f['name']}" for f in spec.get("fields", [])}
    keys = {t["key"]: f"{marker}_{t['key']}" for t in spec.get("tasks", [])}

    def text(value: str) -> str:
        return f"{marker.capitalize()} {value}"

    def code(value: str) -> str:  # CEL conditions and JSON-e templates name fields as data.<name>
        return _DATA_REFERENCE.sub(lambda m: f"data.{names.get(m.group(1), m.group(1))}", value)

    def schema(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        value = dict(value)
        if isinstance(value.get("properties"), dict):
            value["properties"] = {
                names.get(name, name): {**prop, "description": text(f"the {name}")}
                for name, prop in value["properties"].items()
            }
        if isinstance(value.get("required"), list):
            value["required"] = [names.get(name, name) for name in value["required"]]
        return value

    def free(value: Any, key: str = "") -> Any:
        """Mark the free text in `value` (ext_ref links, options, descriptions and the like)."""
        if isinstance(value, str):
            if key in _FIXED:
                return value
            if key == "uri":
                return f"{value.rstrip('/')}/{marker}"
            return code(value) if "data." in value else text(value)
        if isinstance(value, list):
            return [free(item, key) for item in value]
        if isinstance(value, dict):
            return {k: free(v, k) for k, v in value.items()}
        return value

    spec["title"] = text(spec["title"])
    spec["description"] = text(spec.get("description") or "what it is for")
    spec["ext_ref"] = free(spec.get("ext_ref") or [{"label": "policy", "uri": "https://example.com/p"}])
    spec["fields"] = [
        {
            **free(f),
            "name": names[f["name"]],
            "type": f["type"],
            "help_text": text(f"help for {f['name']}"),
        }
        for f in spec.get("fields", [])
    ]
    for task in spec.get("tasks", []):
        task["key"] = keys[task["key"]]
        task["title"] = text(task["title"])
        task["description"] = text(task.get("description") or "what to do")
        task["ext_ref"] = free(task.get("ext_ref") or [{"label": "how-to", "uri": "https://example.com/t"}])
        task["input_schema"] = schema(task.get("input_schema") or {})
        task["output_schema"] = schema(task.get("output_schema") or {})
        for transform in ("input_transform", "output_transform"):
            if task.get(transform) is not None:
                task[transform] = free(task[transform])
        if task.get("code"):
            task["code"] = f"{task['code'].rstrip()}\n# {text('code')}\n"
    for transition in spec.get("transitions", []):
        transition["from"] = keys.get(transition["from"]) if transition.get("from") else None
        transition["to"] = keys[transition["to"]]
        transition["condition"] = code(transition.get("condition") or "")
    for ticket_type in marked.get("ticket_types", []):
        ticket_type["title"] = text(ticket_type["title"])
        ticket_type["description"] = text(ticket_type.get("description") or "what to ask for")
        ticket_type["ext_ref"] = free(
            ticket_type.get("ext_ref") or [{"label": "form", "uri": "https://e.com"}]
        )
        ticket_type["fields"] = [
            {**f, "field": names[f["field"]], **({"preset": free(f["preset"])} if "preset" in f else {})}
            for f in ticket_type.get("fields", [])
        ]
        ticket_type["allowed_roles"] = [role_name]
    return marked


def make_work(tenant: Tenant, *, marker: str | None = None) -> WorkflowDefinition:
    """The company's workflow, releases, tickets and a file; with `marker`, every text of them marked."""
    bundle = load_bundle(SAMPLE_BUNDLE)
    # Who works on the first task: a role reference of the task (B's role carries the marker).
    bundle["workflow"]["tasks"][0].update(worker_role=tenant.role.name, assignment="pool")
    _add_code_task(bundle)
    if marker:
        bundle = mark_bundle(bundle, tenant.role.name, marker)

    def text(value: str) -> str:
        return f"{marker.capitalize()} {value}" if marker else value

    def name(value: str) -> str:
        return f"{marker}_{value}" if marker else value

    _name_people(tenant, text)
    api_token_create(user=tenant.member, name=text("deploy script"))
    designer = tenant.designer
    created = bundle_import(actor=designer, bundle=bundle, comment=text("first upload"))
    workflow = created.workflow
    assert workflow is not None, created.problems
    first = workflow_publish(actor=designer, workflow=workflow, note=text("first release")).release
    bundle["workflow"]["description"] += text("; second version")
    bundle_import(actor=designer, bundle=bundle, into=workflow, comment=text("second upload"))
    second = workflow_publish(actor=designer, workflow=workflow, note=text("second release")).release
    assert first is not None and second is not None
    rollback = release_rollback(actor=designer, release=first, note=text("back to the first")).release
    assert rollback is not None
    data = {name("item"): text("Laptop"), name("reason"): text("my old one broke")}
    make_ticket(tenant.member, workflow, worker=tenant.worker, data=data)
    finished = make_ticket(tenant.member, workflow, worker=tenant.worker, data=data)
    with company_context(tenant.company):
        run = finished.workflow_instance
        assert run is not None
        run.status = WorkflowStatus.COMPLETED
        run.save(update_fields=["status"])
        run.tasks.update(
            status=TaskStatus.COMPLETED,
            output_data={name("approved"): True, name("approval_note"): text("fine by me")},
            started_at=timezone.now(),
            completed_at=timezone.now(),
        )
        FileUpload.objects.create(
            filename=f"{name('quote')}.pdf",
            ext_key=f"uploads/{name('quote')}",
            file_type=f"application/{name('pdf')}",
            uploaded_by=tenant.member,
        )
        _talk_to_the_assistant(tenant, workflow, bundle, text, name)
        _try_code(tenant, workflow, text, name)
    return workflow


def _add_code_task(bundle: dict[str, Any]) -> None:
    """A CODE task after the sample's last step: its code is shown on the design site."""
    spec = bundle["workflow"]
    last = spec["tasks"][-1]["key"]
    spec["tasks"].append(
        {
            "key": "tally",
            "title": "Tally it",
            "type": "CODE",
            "code": "def run(input, context):\n    return {}\n",
        }
    )
    spec["transitions"].append({"from": last, "to": "tally"})


def _try_code(tenant: Tenant, workflow: WorkflowDefinition, text: Any, name: Any) -> None:
    """A designer's finished try of the CODE task (its page answers its owner only)."""
    task = workflow.tasks.get(task_type="CODE")
    CodeTrial.objects.create(
        task=task,
        source=task.code,
        input={name("item"): text("Laptop")},
        status=CodeTrial.Status.DONE,
        outcome="exception",
        output={name("item"): text("Laptop")},
        output_problems={name("item"): [text("is wrong")]},
        message=text("KeyError: 'x'"),
        traceback=text("Traceback: line 1"),
        log=text("printed"),
        ms=12,
        created_by=tenant.designer,
        finished_at=timezone.now(),
    )


def _talk_to_the_assistant(
    tenant: Tenant, workflow: WorkflowDefinition, bundle: dict[str, Any], text: Any, name: Any
) -> None:
    """Two conversations with the assistant: one saved (its page offers "Publish"), one not yet
    (its page offers "Save as draft"); a document, an answer and its proposal."""
    proposal = {
        "bundle": bundle,
        "reply": text("here is your workflow"),
        "questions": [text("who approves?")],
        "problems": [],
        "new_roles": [text("Washer")],
        "generator": name("outline"),
    }
    conversation = Conversation.objects.create(
        title=text("equipment talk"),
        workflow=workflow,
        created_by=tenant.designer,
        proposal=proposal,
        # Saved as it is: the page offers "Publish" too.
        saved_version=WorkflowDefinition.objects.get(pk=workflow.pk).version,
        saved_sha256=bundle_sha256(bundle),
    )
    unsaved = Conversation.objects.create(
        title=text("second talk"), workflow=workflow, created_by=tenant.designer, proposal=proposal
    )
    Message.objects.create(
        conversation=unsaved, role=Message.Role.USER, text=text("and phones"), created_by=tenant.designer
    )
    question = Message.objects.create(
        conversation=conversation,
        role=Message.Role.USER,
        text=text("we order laptops"),
        created_by=tenant.designer,
    )
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        text=proposal["reply"],
        generator=name("outline"),
        proposal=proposal,
    )
    stored = FileUpload.objects.create(
        filename=f"{name('process')}.md",
        ext_key=f"uploads/{name('process')}",
        file_type=f"text/{name('markdown')}",
        uploaded_by=tenant.designer,
    )
    Document.objects.create(
        conversation=conversation,
        message=question,
        file=stored,
        name=text("process.md"),
        text=text("our process"),
    )


def _name_people(tenant: Tenant, text: Any) -> None:
    with company_context(tenant.company):
        for user in tenant.users:
            local = user.email.split("@")[0]
            user.first_name = text(local.capitalize())
            user.last_name = text("Baker")
            user.save(update_fields=["first_name", "last_name"])


# --- what "the company's data" is -------------------------------------------------------------


def company_models() -> list[type[models.Model]]:
    """Every concrete model whose rows belong to a company (User included)."""
    return [
        model
        for model in apps.get_models()
        if any(f.name == "company" for f in model._meta.fields) and not model._meta.proxy
    ]


def owned_rows(company: Company) -> dict[type[models.Model], list[int]]:
    return {
        model: list(model._base_manager.filter(company=company).order_by("pk").values_list("pk", flat=True))
        for model in company_models()
    }


def snapshot(company: Company) -> dict[str, Any]:
    """Every row of the company, its revisions, and every object permission on or of its rows.

    Object permissions count whoever holds them: a right on B's workflow handed to A's user
    changes B's data as much as an edit of the workflow does. Versions likewise: a version of
    B's row recorded in anybody's revision.
    """
    state: dict[str, Any] = {
        "company": list(Company.unscoped.filter(pk=company.pk).values()),
    }
    rows = owned_rows(company)
    for model, pks in rows.items():
        state[model._meta.label] = list(model._base_manager.filter(pk__in=pks).order_by("pk").values())
    on_permissions, on_versions = Q(user__company=company), Q(revision__company_revision__company=company)
    for model, pks in rows.items():
        content_type = ContentType.objects.get_for_model(model)
        object_pks = [str(pk) for pk in pks]
        on_permissions |= Q(content_type=content_type, object_pk__in=object_pks)
        on_versions |= Q(content_type=content_type, object_id__in=object_pks)
    permissions = UserObjectPermission.objects.filter(on_permissions)
    versions = Version.objects.filter(on_versions)
    state["object_permissions"] = list(
        permissions.order_by("pk").values("pk", "user_id", "permission_id", "content_type_id", "object_pk")
    )
    state["versions"] = list(versions.order_by("pk").values("pk", "revision_id", "serialized_data"))
    return state


def snapshot_difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What changed between two snapshots, in a line or two per table."""
    lines = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, []), after.get(table, [])
        if old != new:
            gone = [row for row in old if row not in new]
            came = [row for row in new if row not in old]
            lines.append(f"{table}: before {_short(gone)}, after {_short(came)}")
    return "; ".join(lines)


def _short(rows: list[Any]) -> str:
    text = json.dumps(rows, default=str)
    return text if len(text) < 400 else text[:400] + "…"


# Values that are not text anyone wrote: choices, hashes, secrets.
# Not the company's words: hashes, and the fixed name of what acted when no person did ("TicketFlower").
# Hashes and labels of the system, not text a person wrote (a release's `layouts` maps each
# layout to its compiled module's hash).
_NOT_TEXT = {"password", "sha256", "saved_sha256", "key_hash", "prefix", "actor_label", "layouts", "outcome"}
_DATA_FIELDS = {"data", "input_data", "output_data"}  # JSON keyed by field names


def unmarked_texts(company: Company, marker: str = MARKER) -> list[str]:
    """Every text of the company's rows (JSON strings and keys included) that lacks the marker.

    Empty on B: the premise of the probe, that anything of B's shown anywhere carries it.
    """
    missing = []
    for model, pks in owned_rows(company).items():
        for row in model._base_manager.filter(pk__in=pks):
            for f in model._meta.concrete_fields:
                value = getattr(row, f.attname)
                if f.choices or f.name in _NOT_TEXT or f.is_relation:
                    continue
                for text in _texts(value, keys_are_names=f.name in _DATA_FIELDS):
                    if marker not in text.lower():
                        missing.append(f"{model._meta.label}.{f.name}: {text!r}")
    comments = Version.objects.filter(revision__company_revision__company=company)
    for comment in comments.values_list("revision__comment", flat=True).distinct():
        if marker not in comment.lower():
            missing.append(f"revision comment: {comment!r}")
    return missing


def _texts(value: Any, *, key: str = "", keys_are_names: bool = False) -> list[str]:
    """The strings in a value; of a dict, the keys too where they are names (data, schema properties)."""
    if isinstance(value, str):
        return [value] if value and key not in _FIXED else []
    if isinstance(value, dict):
        found = []
        for k, v in value.items():
            found += [k] if keys_are_names else []
            found += _texts(v, key=k, keys_are_names=k == "properties")
        return found
    if isinstance(value, list):
        return [text for item in value for text in _texts(item, key=key)]
    return []


def company_text(company: Company) -> str:
    """Every text of the company's rows, users and revisions, lower-cased: to check what it holds."""
    parts = [json.dumps(snapshot(company), default=str)]
    comments = Version.objects.filter(revision__company_revision__company=company).values_list(
        "revision__comment", flat=True
    )
    parts.extend(comments)
    return "\n".join(parts).lower()
