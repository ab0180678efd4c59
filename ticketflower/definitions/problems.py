"""Problems in the words of the screen a person is looking at.

Validation names each problem's place as a path into the bundle
(`workflow.transitions[2].condition`): exact, and what the assistant and the API work with.
People read the same place the way the design site shows it:
"Transition 3 (Check in → Quote), condition: …" — rows counted from 1, tasks by title.
"""

import re
from typing import Any

from ticketflower.definitions.validation import Problem

_PART = re.compile(r"^(?P<name>[a-z_]+)(?:\[(?P<index>\d+)\])?$")

WORDS = {
    "title": "title",
    "description": "description",
    "ext_ref": "external references",
    "fields": "fields",
    "display_layout": "display layout",
    "edit_layout": "edit layout",
    "tasks": "tasks",
    "transitions": "transitions",
    "key": "key",
    "type": "type",
    "input_schema": "input schema",
    "output_schema": "output schema",
    "action_url": "action URL",
    "timeout_seconds": "timeout",
    "assignment": "assignment",
    "worker_role": "worker role",
    "input_transform": "input transform",
    "output_transform": "output transform",
    "condition": "condition",
    "priority": "priority",
    "from": "from",
    "to": "to",
    "allowed_roles": "who may submit",
    "preset": "preset",
    "field": "field",
    "options": "options",
    "name": "name",
    "label": "label",
    "required": "required",
    "help_text": "help text",
}


def problem_label(problem: Problem, bundle: Any) -> str:
    """`problem` as a sentence that names its place as the design site shows it."""
    return f"{place_label(problem.path, bundle)}: {problem.message}"


def place_label(path: str, bundle: Any) -> str:
    parts = path.split(".")
    workflow = bundle.get("workflow") if isinstance(bundle, dict) else None
    workflow = workflow if isinstance(workflow, dict) else {}
    if parts[0] == "workflow" and len(parts) > 1:
        return _workflow_part(parts[1:], workflow)
    if parts[0].startswith("ticket_types["):
        match = _PART.match(parts[0])
        index = int(match["index"]) if match and match["index"] else 0
        ticket_types = bundle.get("ticket_types") if isinstance(bundle, dict) else None
        title = _at(ticket_types, index, "title")
        where = f"Ticket type “{title}”" if title else f"Ticket type {index + 1}"
        return _with_rest(where, parts[1:], ticket_type=True)
    return {"workflow": "The workflow", "bundle": "The file", "ticket_types": "Ticket types"}.get(
        parts[0], path
    )


def _workflow_part(parts: list[str], workflow: dict[str, Any]) -> str:
    match = _PART.match(parts[0])
    if match is None:
        return "Workflow " + ".".join(parts)
    name, index = match["name"], match["index"]
    if index is None:
        return _with_rest(f"Workflow {WORDS.get(name, name)}", parts[1:])
    i = int(index)
    if name == "tasks":
        title = _at(workflow.get("tasks"), i, "title")
        return _with_rest(f"Task {i + 1}" + (f" (“{title}”)" if title else ""), parts[1:])
    if name == "transitions":
        return _with_rest(f"Transition {i + 1} ({_edge(workflow, i)})", parts[1:])
    if name == "fields":
        field_name = _at(workflow.get("fields"), i, "name")
        return _with_rest(f"Field {i + 1}" + (f" (“{field_name}”)" if field_name else ""), parts[1:])
    return _with_rest(f"Workflow {WORDS.get(name, name)} {i + 1}", parts[1:])


def _edge(workflow: dict[str, Any], index: int) -> str:
    transitions = workflow.get("transitions")
    transition = transitions[index] if isinstance(transitions, list) and index < len(transitions) else {}
    transition = transition if isinstance(transition, dict) else {}
    titles = {
        task.get("key"): task.get("title") or task.get("key")
        for task in workflow.get("tasks") or []
        if isinstance(task, dict)
    }
    source = transition.get("from")
    target = transition.get("to")
    start = "Start" if source is None else str(titles.get(source, source))
    return f"{start} → {titles.get(target, target)}"


def _with_rest(where: str, rest: list[str], *, ticket_type: bool = False) -> str:
    if not rest:
        return where
    words = []
    for part in rest:
        match = _PART.match(part)
        if match is None:
            words.append(part)
            continue
        word = WORDS.get(match["name"], match["name"])
        if match["index"] is not None:
            singular = "field" if ticket_type and match["name"] == "fields" else word.rstrip("s")
            word = f"{singular} {int(match['index']) + 1}"
        words.append(word)
    # The first word names the attribute; deeper parts (inside a schema) follow as they are.
    head, *tail = words
    return f"{where}, {head}" + (f" ({'.'.join(tail)})" if tail else "")


def _at(items: Any, index: int, key: str) -> str:
    if isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], dict):
        value = items[index].get(key)
        return str(value) if value else ""
    return ""
