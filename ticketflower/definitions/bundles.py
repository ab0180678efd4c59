"""The bundle: one workflow with its tasks, transitions and ticket types, as plain data.

It is the format of upload and download (JSON or YAML), of validation, and of what a release
freezes. Tasks are referred to by `key`, roles by name; a bundle never carries a company or a
primary key, so it moves between companies unchanged.
docs/bundle-format.md specifies it.
"""

import copy
import hashlib
import json
from typing import Any

import yaml

from ticketflower.core.limits import (
    MAX_BUNDLE_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_NODES,
    json_within_limits,
)
from ticketflower.definitions.models import TaskDefinition, TicketDefinition, WorkflowDefinition

# libyaml when PyYAML was built with it: the pure-Python parser takes seconds on a large file.
_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
    "code",
)

# What every exported and published task spells out: the engine reads `task["assignment"]` and
# `task["worker_role"]` (a company role's name) without a fallback; `code` came with CODE tasks.
SPELLED_OUT: dict[str, Any] = {"assignment": "auto", "worker_role": None, "code": ""}


class BundleSyntaxError(ValueError):
    """The file is not JSON or YAML, or not a bundle at all; the message says where."""


def bundle_parse(text: str, *, filename: str = "") -> dict[str, Any]:
    """Parse an uploaded bundle (JSON or YAML, by extension or by trying).

    Size, nesting depth and number of values are capped (limits.py) before anything is built,
    and YAML anchors and aliases are refused: a few hundred bytes of aliases expand to
    gigabytes. What comes back is plain data of bounded size.
    """
    if len(text) > MAX_BUNDLE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BUNDLE_BYTES:
        raise BundleSyntaxError(f"The file is larger than {MAX_BUNDLE_BYTES:,} bytes.")
    try:
        # YAML is a superset of JSON: anything not named .json is read as YAML.
        if filename.endswith(".json"):
            data = json.loads(text)
        else:
            _yaml_within_limits(text)
            data = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a safe loader
    except json.JSONDecodeError as exc:
        raise BundleSyntaxError(f"Not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise BundleSyntaxError(f"Not valid YAML: {where}{getattr(exc, 'problem', exc)}.") from exc
    except RecursionError as exc:
        raise BundleSyntaxError(f"The file nests more than {MAX_JSON_DEPTH} levels deep.") from exc
    except BundleSyntaxError:
        raise
    except ValueError as exc:  # a value Python cannot hold: a 5,000-digit number, the 31st of February
        raise BundleSyntaxError(f"A value cannot be read: {exc}.") from exc
    too_big = json_within_limits(data, max_depth=MAX_JSON_DEPTH, max_nodes=MAX_JSON_NODES)
    if too_big:
        raise BundleSyntaxError(f"The file {too_big}.")
    if not isinstance(data, dict):
        raise BundleSyntaxError("A bundle is an object with a workflow and its ticket types.")
    if data.get("format", FORMAT) != FORMAT:
        raise BundleSyntaxError(f'Unknown format {data.get("format")!r}: this is "{FORMAT}".')
    return data


def _yaml_within_limits(text: str) -> None:
    """Look at the YAML's events, before any value is built: no anchors or aliases, and within
    the depth and node caps. Raises BundleSyntaxError naming the line and column."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_YamlLoader):
        mark = event.start_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise BundleSyntaxError(
                f"YAML anchors and aliases (&name, *name) are not allowed in a bundle{at}: "
                "write the value out where it is used."
            )
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            nodes += 1
            if nodes > MAX_JSON_NODES:
                raise BundleSyntaxError(f"The file holds more than {MAX_JSON_NODES:,} values{at}.")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise BundleSyntaxError(f"The file nests more than {MAX_JSON_DEPTH} levels deep{at}.")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def bundle_dump(bundle: dict[str, Any], *, as_yaml: bool = False) -> str:
    if as_yaml:
        return str(yaml.safe_dump(bundle, sort_keys=False, allow_unicode=True, width=100))
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


def bundle_sha256(bundle: dict[str, Any]) -> str:
    """A fingerprint of the bundle's content: equal bundles hash alike, whatever their key order.

    A task's empty `code` is left out, so a bundle hashes as it did before tasks had code: the
    releases published then still match their unchanged drafts.
    """
    content = _without_empty_code(bundle)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _without_empty_code(bundle: dict[str, Any]) -> dict[str, Any]:
    workflow = bundle.get("workflow")
    if not isinstance(workflow, dict):
        return bundle
    tasks = workflow.get("tasks")
    if not isinstance(tasks, list) or not any(isinstance(t, dict) and t.get("code") == "" for t in tasks):
        return bundle
    stripped = [
        {k: v for k, v in t.items() if (k, v) != ("code", "")} if isinstance(t, dict) else t for t in tasks
    ]
    return {**bundle, "workflow": {**workflow, "tasks": stripped}}


def bundle_with_defaults(bundle: dict[str, Any]) -> dict[str, Any]:
    """A copy of `bundle` whose every task names its assignment, worker role and code.

    Bundles written before tasks had them (older releases, files) leave them out; defaults
    added here make them read, compare and publish like a bundle exported today.
    """
    complete = copy.deepcopy(bundle)
    workflow = complete.get("workflow")
    tasks = workflow.get("tasks") if isinstance(workflow, dict) else None
    for task in tasks if isinstance(tasks, list) else []:
        if isinstance(task, dict):
            for name, default in SPELLED_OUT.items():
                task.setdefault(name, default)
    return complete


def workflow_bundle(workflow: WorkflowDefinition) -> dict[str, Any]:
    """The bundle of a saved workflow, with the ticket types that use it."""
    tasks = list(workflow.tasks.select_related("worker_role").order_by("pk"))
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
    data["assignment"] = task.assignment
    data["worker_role"] = task.worker_role.name if task.worker_role else None
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
