"""Version history of definitions with django-reversion.

A workflow's revision follows its tasks and transitions, so reverting a workflow restores
the whole graph as it was. `version` is left out of the history: a revert is a new change,
so the number only ever grows.
"""

from typing import Any

import reversion
from reversion.models import Version

from ticketflower.definitions.bundles import FORMAT, TASK_FIELDS
from ticketflower.definitions.models import (
    TaskDefinition,
    TicketDefinition,
    WorkflowDefinition,
    WorkflowTransition,
)


def register() -> None:
    if reversion.is_registered(WorkflowDefinition):
        return
    reversion.register(TaskDefinition, exclude=["version"])
    reversion.register(WorkflowTransition)
    reversion.register(WorkflowDefinition, follow=["tasks", "transitions"], exclude=["version"])
    reversion.register(TicketDefinition, exclude=["version"])


def version_bundle(version: Version) -> dict[str, Any]:
    """The workflow as one revision recorded it, in bundle form (ticket types left out)."""
    data = version.field_dict
    revision_versions = list(version.revision.version_set.all())
    tasks = sorted(
        (v.field_dict for v in revision_versions if v._model is TaskDefinition),
        key=lambda task: task["id"],
    )
    tasks = [task for task in tasks if task["workflow_id"] == int(version.object_id)]
    keys = {task["id"]: task["key"] for task in tasks}
    transitions = [
        v.field_dict
        for v in revision_versions
        if v._model is WorkflowTransition and v.field_dict["id"] is not None
    ]
    return {
        "format": FORMAT,
        "workflow": {
            "title": data["title"],
            "description": data["description"],
            "ext_ref": data["ext_ref"],
            "fields": data["fields"],
            "display_layout": data["display_layout"],
            "status": data["status"],
            "tasks": [
                {**{name: task.get(name) for name in TASK_FIELDS}, "type": task["task_type"]}
                for task in tasks
            ],
            "transitions": sorted(
                (
                    {
                        "from": keys.get(t["from_task_id"]) if t.get("from_task_id") else None,
                        "to": keys.get(t["to_task_id"]),
                        "condition": t["condition"],
                        "priority": t["priority"],
                    }
                    for t in transitions
                    if t.get("workflow_id") == int(version.object_id)
                ),
                key=lambda t: (t["from"] or "", t["priority"], t["to"] or ""),
            ),
        },
    }
