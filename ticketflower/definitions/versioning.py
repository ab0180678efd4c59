"""Version history of workflow drafts with django-reversion.

A workflow's revision follows its tasks, transitions and ticket types (with who may submit
them), so every revision records the whole draft and reverting one restores the whole draft
as it was. `version` is left out of the history: `services.workflow_save` numbers every
change, reverts included, so the number only ever grows.
"""

import json
from typing import Any

import reversion
from reversion.models import Version

from ticketflower.definitions.bundles import FORMAT, TASK_FIELDS
from ticketflower.definitions.models import (
    TaskDefinition,
    TicketDefinition,
    TicketTypeRole,
    WorkflowDefinition,
    WorkflowTransition,
)
from ticketflower.tenancy.models import CompanyRole


def register() -> None:
    if reversion.is_registered(WorkflowDefinition):
        return
    reversion.register(TaskDefinition)
    reversion.register(WorkflowTransition)
    reversion.register(TicketTypeRole)
    reversion.register(TicketDefinition, follow=["role_links"])
    reversion.register(
        WorkflowDefinition, follow=["tasks", "transitions", "ticket_types"], exclude=["version"]
    )


def version_bundle(version: Version) -> dict[str, Any]:
    """The workflow as one revision recorded it, in bundle form."""
    workflow_id = int(version.object_id)
    recorded: dict[type[Any], list[dict[str, Any]]] = {}
    for item in version.revision.version_set.all():
        fields = json.loads(item.serialized_data)[0]
        recorded.setdefault(item._model, []).append({"id": int(item.object_id), **fields["fields"]})
    data = json.loads(version.serialized_data)[0]["fields"]

    tasks = sorted(
        (t for t in recorded.get(TaskDefinition, []) if t["workflow"] == workflow_id), key=lambda t: t["id"]
    )
    keys = {task["id"]: task["key"] for task in tasks}
    transitions = [t for t in recorded.get(WorkflowTransition, []) if t["workflow"] == workflow_id]
    ticket_types = sorted(
        (t for t in recorded.get(TicketDefinition, []) if t["workflow"] == workflow_id),
        key=lambda t: (t["title"], t["id"]),
    )
    role_ids: dict[int, list[int]] = {}
    for link in recorded.get(TicketTypeRole, []):
        role_ids.setdefault(link["ticket_type"], []).append(link["role"])
    names = dict(CompanyRole.objects.values_list("pk", "name"))
    return {
        "format": FORMAT,
        "workflow": {
            "title": data["title"],
            "description": data["description"],
            "ext_ref": data["ext_ref"],
            "fields": data["fields"],
            "display_layout": data["display_layout"],
            "tasks": [
                {
                    **{name: task.get(name) for name in TASK_FIELDS},
                    "type": task["task_type"],
                    # Revisions recorded before tasks had these hold neither: the defaults.
                    "assignment": task.get("assignment") or "auto",
                    "worker_role": _role_name(names, task.get("worker_role")),
                }
                for task in tasks
            ],
            "transitions": sorted(
                (
                    {
                        "from": keys.get(t["from_task"]) if t.get("from_task") else None,
                        "to": keys.get(t["to_task"]),
                        "condition": t["condition"],
                        "priority": t["priority"],
                    }
                    for t in transitions
                ),
                key=lambda t: (t["from"] is not None, t["from"] or "", t["priority"], t["to"] or ""),
            ),
        },
        "ticket_types": [
            {
                "title": t["title"],
                "description": t["description"],
                "ext_ref": t["ext_ref"],
                "fields": t["fields"],
                "allowed_roles": sorted(str(_role_name(names, r)) for r in role_ids.get(t["id"], [])),
                "edit_layout": t["edit_layout"],
                "display_layout": t["display_layout"],
            }
            for t in ticket_types
        ],
    }


def _role_name(names: dict[int, str], role_id: int | None) -> str | None:
    if role_id is None:
        return None
    return names.get(role_id, f"(deleted role {role_id})")
