"""The bundle: one workflow with its tasks, transitions and ticket types, as plain data.

It is the format of upload and download (JSON or YAML), of validation, and of what a release
freezes. Tasks are referred to by `key`, roles by name; a bundle never carries a company or a
primary key, so it moves between companies unchanged.
docs/bundle-format.md specifies it.
"""

import hashlib
import json
from typing import Any

import yaml

from ticketflower.definitions.models import TaskDefinition, TicketDefinition, WorkflowDefinition

FORMAT = "ticketflower-bundle/1"

TASK_FIELDS = (
    "key",
    "title",
    "description",
    "ext_ref",
    "input_schema",
    "output_schema",
    "edit_layout",
    "display_layout",
    "action_url",
    "input_transform",
    "output_transform",
    "timeout_seconds",
)


class BundleSyntaxError(ValueError):
    """The file is not JSON or YAML, or not a bundle at all; the message says where."""


def bundle_parse(text: str, *, filename: str = "") -> dict[str, Any]:
    """Parse an uploaded bundle (JSON or YAML, by extension or by trying)."""
    try:
        # YAML is a superset of JSON: anything not named .json is read as YAML.
        data = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise BundleSyntaxError(f"Not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise BundleSyntaxError(f"Not valid YAML: {where}{getattr(exc, 'problem', exc)}.") from exc
    except RecursionError as exc:
        raise BundleSyntaxError("The file is nested too deeply to be a bundle.") from exc
    if not isinstance(data, dict):
        raise BundleSyntaxError("A bundle is an object with a workflow and its ticket types.")
    if data.get("format", FORMAT) != FORMAT:
        raise BundleSyntaxError(f'Unknown format {data.get("format")!r}: this is "{FORMAT}".')
    return data


def bundle_dump(bundle: dict[str, Any], *, as_yaml: bool = False) -> str:
    if as_yaml:
        return str(yaml.safe_dump(bundle, sort_keys=False, allow_unicode=True, width=100))
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


def bundle_sha256(bundle: dict[str, Any]) -> str:
    """A fingerprint of the bundle's content: equal bundles hash alike, whatever their key order."""
    canonical = json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def workflow_bundle(workflow: WorkflowDefinition) -> dict[str, Any]:
    """The bundle of a saved workflow, with the ticket types that use it."""
    tasks = list(workflow.tasks.order_by("pk"))
    keys = {task.pk: task.key for task in tasks}
    transitions = workflow.transitions.all()  # Meta.ordering: the start first, then source and priority
    ticket_types = workflow.ticket_types.prefetch_related("allowed_roles").order_by("title", "pk")
    return {
        "format": FORMAT,
        "workflow": {
            "title": workflow.title,
            "description": workflow.description,
            "ext_ref": workflow.ext_ref,
            "fields": workflow.fields,
            "display_layout": workflow.display_layout,
            "tasks": [_task(task) for task in tasks],
            "transitions": [
                {
                    "from": keys.get(t.from_task_id) if t.from_task_id else None,
                    "to": keys[t.to_task_id],
                    "condition": t.condition,
                    "priority": t.priority,
                }
                for t in transitions
            ],
        },
        "ticket_types": [_ticket_type(ticket_type) for ticket_type in ticket_types],
    }


def _task(task: TaskDefinition) -> dict[str, Any]:
    data = {name: getattr(task, name) for name in TASK_FIELDS}
    data["type"] = task.task_type
    return data


def _ticket_type(ticket_type: TicketDefinition) -> dict[str, Any]:
    return {
        "title": ticket_type.title,
        "description": ticket_type.description,
        "ext_ref": ticket_type.ext_ref,
        "fields": ticket_type.fields,
        "allowed_roles": sorted(role.name for role in ticket_type.allowed_roles.all()),
        "edit_layout": ticket_type.edit_layout,
        "display_layout": ticket_type.display_layout,
    }
