"""Validate a workflow bundle — plain data, no database — and name every problem's place.

The input is the bundle format (docs/bundle-format.md): the same dict the admin builds from
its models, an upload parses from JSON or YAML, and an assistant will write. Each problem
carries a path such as `workflow.tasks[2].condition` so a person (or the assistant) can fix
exactly that spot. A draft with problems can be saved, never published.
`bundle_warnings` lists what is allowed but probably not meant; warnings never block.

Validation is bounded whatever the bundle holds: sizes and depths are checked before anything
looks inside (limits.py), and conditions, transforms and schemas are checked in evaluator
processes under a time limit each and one for the whole validation (expressions.py).
"""

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from ticketflower.codetasks.checks import MAX_SECONDS as MAX_CODE_SECONDS
from ticketflower.codetasks.checks import code_problems
from ticketflower.core.limits import (
    MAX_JSON_DEPTH,
    MAX_JSON_NODES,
    MAX_VALUE_DEPTH,
    MAX_VALUE_NODES,
    json_within_limits,
)
from ticketflower.definitions.expressions import (
    ExpressionError,
    ExpressionLimitError,
    condition_check,
    schema_check,
    time_budget,
    transform_render,
)
from ticketflower.definitions.fields import KEY_PATTERN, NAME_PATTERN, FieldType, sample_value, value_schema
from ticketflower.layouts.compiler import CompilerMissing, LayoutInvalid, compile_layout
from ticketflower.layouts.slots import bundle_slots

TASK_TYPES = {"FORM", "SYNC_ACTION", "ASYNC_ACTION", "CODE"}
ACTION_TYPES = {"SYNC_ACTION", "ASYNC_ACTION"}
AUTOMATED_TYPES = {*ACTION_TYPES, "CODE"}  # they run by themselves: no person, no role
ASSIGNMENTS = {"auto", "pool"}
MAX_TIMEOUT_SECONDS = 3600  # a SYNC action's request
MAX_CALLBACK_SECONDS = 30 * 24 * 3600  # an ASYNC action's wait for its callback: up to 30 days


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate_bundle(bundle: Any) -> list[Problem]:
    """Every problem of a bundle: its shape first, then its workflow, tasks, transitions and ticket types.

    Expressions and schemas share EXPRESSION_CHECK_TIME_LIMIT seconds; those left when it is
    spent are problems ("Not checked: ...").
    """
    with time_budget():
        return _validate(bundle)


def _validate(bundle: Any) -> list[Problem]:
    problems = shape_problems(bundle)
    if problems:  # the deeper checks assume the right types and sizes
        return sorted(problems)
    workflow = bundle["workflow"]
    problems += validate_workflow(workflow, path="workflow")
    fields = _fields_by_name(workflow)
    titles: set[str] = set()
    for index, ticket_type in enumerate(_list(bundle.get("ticket_types"))):
        path = f"ticket_types[{index}]"
        problems += validate_ticket_type(ticket_type, fields, path=path)
        title = str(ticket_type.get("title") or "").strip().lower()
        if title in titles:
            problems.append(
                Problem(f"{path}.title", f"Two ticket types are called {ticket_type['title']!r}.")
            )
        titles.add(title)
    problems += layout_problems(bundle)
    return sorted(problems)


def layout_problems(bundle: dict[str, Any]) -> list[Problem]:
    """Every written layout must compile, import only react and the kit, and export a component."""
    problems = []
    for slot in bundle_slots(bundle):
        if not slot.source.strip():
            continue  # the generated default
        try:
            compile_layout(slot.source)
        except LayoutInvalid as exc:
            problems += [Problem(slot.path, str(problem)) for problem in exc.problems]
        except CompilerMissing as exc:
            problems.append(Problem(slot.path, str(exc)))
    return problems


def bundle_warnings(bundle: Any) -> list[Problem]:
    """What a valid bundle allows but a designer probably did not mean. Never blocks publishing."""
    if shape_problems(bundle):
        return []
    warnings = []
    workflow = bundle["workflow"]
    for index, task in enumerate(_list(workflow.get("tasks"))):
        properties = (task.get("output_schema") or {}).get("properties")
        if task.get("type") != "CODE" and str(task.get("code") or "").strip():
            warnings.append(
                Problem(
                    f"workflow.tasks[{index}].code",
                    f"This is a {task.get('type')} task, so its code never runs. Make it a CODE task "
                    "to run it, or empty the code.",
                )
            )
        if task.get("type") == "FORM" and not properties:
            warnings.append(
                Problem(
                    f"workflow.tasks[{index}].output_schema",
                    "Nothing to fill in: the person doing this task only marks it done. If they should "
                    "enter something, list those fields in the task's output schema.",
                )
            )
    if not _list(bundle.get("ticket_types")):
        warnings.append(
            Problem(
                "ticket_types", "No ticket type starts this workflow, so nobody can submit a ticket for it."
            )
        )
    return warnings


# --- shape: types, sizes and JSON-ness of every value, before anything looks inside -------

_TEXT = (str, None)  # any length
_OPTIONAL_INT = (int, None, "optional")

# key: (type, max length or range, required)
WORKFLOW_SHAPE: dict[str, tuple[Any, ...]] = {
    "title": (str, 255, True),
    "description": (str, None, False),
    "ext_ref": (list, None, False),
    "fields": (list, None, False),
    "display_layout": (str, None, False),
    "tasks": (list, None, False),
    "transitions": (list, None, False),
}
FIELD_SHAPE = {
    "name": (str, 63, True),
    "type": (str, 32, True),
    "label": (str, 255, False),
    "required": (bool, None, False),
    "help_text": (str, 1000, False),
    "options": (list, None, False),
}
TASK_SHAPE = {
    "key": (str, 64, True),
    "title": (str, 255, True),
    "type": (str, 16, True),
    "description": (str, None, False),
    "ext_ref": (list, None, False),
    "input_schema": (dict, None, False),
    "output_schema": (dict, None, False),
    "edit_layout": (str, None, False),
    "display_layout": (str, None, False),
    "action_url": (str, 2000, False),
    "timeout_seconds": (int, (1, MAX_CALLBACK_SECONDS), False),
    "assignment": (str, 16, False),
    "worker_role": (str, 100, False),
    "code": (str, None, False),  # its size is code_problems' to say, with its own message
}
TRANSITION_SHAPE = {
    "from": (str, 64, False),
    "to": (str, 64, True),
    "condition": (str, 10_000, False),
    "priority": (int, (-(2**31), 2**31 - 1), False),
}
TICKET_TYPE_SHAPE = {
    "title": (str, 255, True),
    "description": (str, None, False),
    "ext_ref": (list, None, False),
    "fields": (list, None, False),
    "allowed_roles": (list, None, False),
    "edit_layout": (str, None, False),
    "display_layout": (str, None, False),
    "status": (str, 16, False),
}


def shape_problems(bundle: Any) -> list[Problem]:
    """Wrong types, sizes and non-JSON values, each with its place."""
    if not isinstance(bundle, dict):
        return [Problem("bundle", "A bundle is an object with a workflow and its ticket types.")]
    too_big = _size_problems(bundle)
    if too_big:
        return too_big
    try:
        json.dumps(bundle, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return [
            Problem("bundle", f"Only plain JSON values are allowed (quote dates; no NaN or Infinity): {exc}")
        ]
    workflow = bundle.get("workflow")
    if not isinstance(workflow, dict):
        return [Problem("workflow", "A bundle needs a workflow (an object).")]
    problems = _shape(workflow, WORKFLOW_SHAPE, "workflow")
    for name, shape in (("fields", FIELD_SHAPE), ("tasks", TASK_SHAPE), ("transitions", TRANSITION_SHAPE)):
        for index, item in enumerate(
            workflow.get(name) or [] if isinstance(workflow.get(name), list) else []
        ):
            problems += _shape(item, shape, f"workflow.{name}[{index}]")
    for index, task in enumerate(_dicts(workflow.get("tasks"))):
        key = task.get("key")
        if isinstance(key, str) and key and not KEY_PATTERN.match(key):
            problems.append(
                Problem(f"workflow.tasks[{index}].key", "A key has only letters, digits, - and _.")
            )
    for index, field in enumerate(_dicts(workflow.get("fields"))):
        options = field.get("options")
        if options is not None and not all(isinstance(o, str) for o in options if isinstance(options, list)):
            problems.append(Problem(f"workflow.fields[{index}].options", "Options are a list of texts."))
    ticket_types = bundle.get("ticket_types")
    if ticket_types is not None and not isinstance(ticket_types, list):
        problems.append(Problem("ticket_types", "The ticket types are a list."))
    for index, ticket_type in enumerate(ticket_types if isinstance(ticket_types, list) else []):
        path = f"ticket_types[{index}]"
        problems += _shape(ticket_type, TICKET_TYPE_SHAPE, path)
        if not isinstance(ticket_type, dict):
            continue
        for f_index, entry in enumerate(
            ticket_type.get("fields") or [] if isinstance(ticket_type.get("fields"), list) else []
        ):
            if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
                problems.append(
                    Problem(
                        f"{path}.fields[{f_index}]",
                        'Each entry is {"field": name}, with an optional "preset".',
                    )
                )
        roles = ticket_type.get("allowed_roles")
        for r_index, role in enumerate(roles if isinstance(roles, list) else []):
            if not isinstance(role, str) or not 0 < len(role) <= 100:
                problems.append(
                    Problem(
                        f"{path}.allowed_roles[{r_index}]",
                        "A role is named by its name (text, up to 100 characters).",
                    )
                )
    return problems


def _size_problems(bundle: dict[str, Any]) -> list[Problem]:
    """Parts too big or too deep to look into, at their place when they are free-form values."""
    # Depth is capped at the node cap here: this pass only bounds the loops below.
    too_big = json_within_limits(bundle, max_depth=MAX_JSON_NODES, max_nodes=MAX_JSON_NODES)
    if too_big:
        return [Problem("bundle", f"The bundle {too_big}.")]
    problems = []
    for path, value in _free_form_values(bundle):
        too_big = json_within_limits(value, max_depth=MAX_VALUE_DEPTH, max_nodes=MAX_VALUE_NODES)
        if too_big:
            problems.append(Problem(path, f"This {too_big}."))
    if not problems:
        too_big = json_within_limits(bundle, max_depth=MAX_JSON_DEPTH, max_nodes=MAX_JSON_NODES)
        if too_big:
            problems.append(Problem("bundle", f"The bundle {too_big}."))
    return problems


def _free_form_values(bundle: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Schemas, transforms and presets: the values a bundle does not give a shape to."""
    workflow = bundle.get("workflow")
    for index, task in enumerate(_dicts(workflow.get("tasks")) if isinstance(workflow, dict) else []):
        for name in ("input_schema", "output_schema", "input_transform", "output_transform"):
            yield f"workflow.tasks[{index}].{name}", task.get(name)
    for index, ticket_type in enumerate(_dicts(bundle.get("ticket_types"))):
        for f_index, entry in enumerate(_dicts(ticket_type.get("fields"))):
            yield f"ticket_types[{index}].fields[{f_index}].preset", entry.get("preset")


def _shape(item: Any, shape: dict[str, tuple[Any, ...]], path: str) -> list[Problem]:
    if not isinstance(item, dict):
        return [Problem(path, "This must be an object.")]
    problems = []
    for key, (kind, limit, required) in shape.items():
        value = item.get(key)
        if value is None:
            if required:
                problems.append(Problem(f"{path}.{key}", "This is required."))
            continue
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(Problem(f"{path}.{key}", "This must be a whole number."))
        elif kind is not int and not isinstance(value, kind):
            problems.append(Problem(f"{path}.{key}", f"This must be {_KIND_NAMES[kind]}."))
        elif isinstance(limit, int) and len(value) > limit:
            problems.append(Problem(f"{path}.{key}", f"At most {limit} characters."))
        elif isinstance(limit, tuple) and not limit[0] <= value <= limit[1]:
            problems.append(Problem(f"{path}.{key}", f"This must be from {limit[0]} to {limit[1]}."))
    return problems


_KIND_NAMES = {str: "text", list: "a list", dict: "an object", bool: "true or false"}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def validate_workflow(workflow: dict[str, Any], *, path: str = "workflow") -> list[Problem]:
    problems: list[Problem] = []
    if not str(workflow.get("title") or "").strip():
        problems.append(Problem(f"{path}.title", "A workflow needs a title."))
    problems += _check_ext_ref(workflow.get("ext_ref"), f"{path}.ext_ref")
    problems += _check_fields(workflow.get("fields"), f"{path}.fields")
    fields = _fields_by_name(workflow)

    tasks = _list(workflow.get("tasks"))
    if not tasks:
        problems.append(Problem(f"{path}.tasks", "A workflow needs at least one task."))
    keys: dict[str, int] = {}
    for index, task in enumerate(tasks):
        task_path = f"{path}.tasks[{index}]"
        key = str(task.get("key") or "")
        if not key:
            problems.append(Problem(f"{task_path}.key", "A task needs a key."))
        elif key in keys:
            problems.append(Problem(f"{task_path}.key", f'Two tasks use the key "{key}".'))
        else:
            keys[key] = index
        problems += _check_task(task, fields, task_path)

    problems += _check_transitions(_list(workflow.get("transitions")), keys, fields, path)
    return problems


def validate_ticket_type(
    ticket_type: dict[str, Any], fields: dict[str, dict[str, Any]], *, path: str
) -> list[Problem]:
    problems: list[Problem] = []
    if not str(ticket_type.get("title") or "").strip():
        problems.append(Problem(f"{path}.title", "A ticket type needs a title."))
    problems += _check_ext_ref(ticket_type.get("ext_ref"), f"{path}.ext_ref")
    seen: set[str] = set()
    for index, entry in enumerate(_list(ticket_type.get("fields"))):
        entry_path = f"{path}.fields[{index}]"
        name = entry.get("field") if isinstance(entry, dict) else None
        if not isinstance(name, str) or name not in fields:
            problems.append(
                Problem(f"{entry_path}.field", f"Unknown field {name!r}: not a field of the workflow.")
            )
            continue
        if name in seen:
            problems.append(Problem(f"{entry_path}.field", f'The field "{name}" is listed twice.'))
        seen.add(name)
        if "preset" in entry:
            problems += _check_value(entry["preset"], fields[name], f"{entry_path}.preset")
    return problems


def _check_task(task: dict[str, Any], fields: dict[str, dict[str, Any]], path: str) -> list[Problem]:
    problems: list[Problem] = []
    if not str(task.get("title") or "").strip():
        problems.append(Problem(f"{path}.title", "A task needs a title."))
    task_type = task.get("type")
    if task_type not in TASK_TYPES:
        problems.append(
            Problem(
                f"{path}.type",
                f"Unknown task type {task_type!r}: use FORM, SYNC_ACTION, ASYNC_ACTION or CODE.",
            )
        )
    problems += _check_ext_ref(task.get("ext_ref"), f"{path}.ext_ref")
    problems += _check_assignment(task, path)
    for name in ("input_schema", "output_schema"):
        problems += _check_schema(task.get(name), fields, f"{path}.{name}")
    if task_type in ACTION_TYPES:
        url = str(task.get("action_url") or "")
        if not url:
            problems.append(Problem(f"{path}.action_url", "An action task needs the URL to call."))
        elif not url.startswith(("http://", "https://")):
            problems.append(
                Problem(f"{path}.action_url", "The action URL must start with http:// or https://.")
            )
        timeout = task.get("timeout_seconds")
        if timeout is None:
            problems.append(Problem(f"{path}.timeout_seconds", "An action task needs a timeout in seconds."))
        else:
            most = MAX_CALLBACK_SECONDS if task_type == "ASYNC_ACTION" else MAX_TIMEOUT_SECONDS
            if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= most:
                problems.append(
                    Problem(
                        f"{path}.timeout_seconds", f"The timeout must be a whole number from 1 to {most:,}."
                    )
                )
    if task_type == "CODE":
        problems += _check_code(task, path)
        return problems
    sample = {"data": {name: sample_value(field) for name, field in fields.items()}}
    for name, context in (
        ("input_transform", {**sample, "ticket": {"id": 1, "submitted_by": "someone@example.com"}}),
        ("output_transform", {**sample, "response": {}, "status": 200}),
    ):
        template = task.get(name)
        if template is None:
            continue
        try:
            transform_render(template, context)
        except ExpressionLimitError as exc:
            problems.append(Problem(f"{path}.{name}", str(exc)))
        except ExpressionError as exc:
            # With sample data only syntax and unknown names are certain errors: the shape of
            # an endpoint's response is not known before it answers.
            if exc.syntax or _names_unknown_root(str(exc), context):
                problems.append(Problem(f"{path}.{name}", f"The transform does not work: {exc}"))
    return problems


def _check_code(task: dict[str, Any], path: str) -> list[Problem]:
    """A CODE task: its source, its time limit, and nothing of an HTTP action."""
    problems = [
        Problem(f"{path}.code", str(problem)) for problem in code_problems(str(task.get("code") or ""))
    ]
    timeout = task.get("timeout_seconds")
    if timeout is not None and not 1 <= timeout <= MAX_CODE_SECONDS:
        problems.append(
            Problem(
                f"{path}.timeout_seconds",
                f"A code task may run from 1 to {MAX_CODE_SECONDS} seconds; leave it empty for the default.",
            )
        )
    for name in ("action_url", "input_transform", "output_transform"):
        if task.get(name) not in (None, "", {}):
            problems.append(
                Problem(
                    f"{path}.{name}",
                    "A code task calls no endpoint: its code reads the input and returns the output. "
                    "Leave this empty.",
                )
            )
    return problems


def _check_assignment(task: dict[str, Any], path: str) -> list[Problem]:
    """Who works on the task. Whether the worker role exists is the company's to say (services)."""
    problems = []
    assignment = task.get("assignment")
    action = task.get("type") in AUTOMATED_TYPES
    if assignment is not None and assignment not in ASSIGNMENTS:
        problems.append(
            Problem(f"{path}.assignment", f"Unknown assignment {assignment!r}: use auto or pool.")
        )
    elif action and assignment not in (None, "auto"):
        problems.append(
            Problem(
                f"{path}.assignment",
                "Only form tasks are assigned to people: an action or code task runs by itself, "
                'so leave it "auto".',
            )
        )
    if action and task.get("worker_role"):
        problems.append(
            Problem(
                f"{path}.worker_role",
                "Only form tasks are assigned to people: an action or code task runs by itself and takes "
                "no worker role.",
            )
        )
    return problems


def _names_unknown_root(message: str, context: dict[str, Any]) -> bool:
    prefix = "unknown context value "
    return prefix in message and message.split(prefix, 1)[1].split()[0] not in context


def _check_transitions(
    transitions: list[Any], keys: dict[str, int], fields: dict[str, dict[str, Any]], path: str
) -> list[Problem]:
    problems: list[Problem] = []
    starts = []
    edges: dict[str | None, set[str]] = {}
    for index, transition in enumerate(transitions):
        t_path = f"{path}.transitions[{index}]"
        source = transition.get("from")
        target = transition.get("to")
        if source is not None and source not in keys:
            problems.append(
                Problem(f"{t_path}.from", f"Unknown task {source!r}: not a task of this workflow.")
            )
        if target not in keys:
            problems.append(Problem(f"{t_path}.to", f"Unknown task {target!r}: not a task of this workflow."))
        if source is None:
            starts.append(index)
        priority = transition.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            problems.append(Problem(f"{t_path}.priority", "The priority must be a whole number."))
        condition = transition.get("condition") or ""
        if not isinstance(condition, str):
            problems.append(Problem(f"{t_path}.condition", "The condition must be a CEL expression (text)."))
        else:
            try:
                condition_check(condition)
            except ExpressionLimitError as exc:
                problems.append(Problem(f"{t_path}.condition", str(exc)))
            except ExpressionError as exc:
                problems.append(Problem(f"{t_path}.condition", f"The condition does not parse: {exc}"))
        if target in keys and (source is None or source in keys):
            edges.setdefault(source, set()).add(target)

    if keys and not starts:
        problems.append(Problem(f"{path}.transitions", 'No start: add a transition with "from": null.'))
    for index in starts[1:]:
        problems.append(
            Problem(f"{path}.transitions[{index}].from", "A second start: a workflow has exactly one.")
        )
    if starts:
        reached = _reachable(edges)
        for key, index in keys.items():
            if key not in reached:
                problems.append(
                    Problem(f"{path}.tasks[{index}]", f'The task "{key}" cannot be reached from the start.')
                )
    return problems


def _reachable(edges: dict[str | None, set[str]]) -> set[str]:
    seen: set[str] = set()
    queue: deque[str | None] = deque([None])
    while queue:
        for target in edges.get(queue.popleft(), set()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _check_fields(fields: Any, path: str) -> list[Problem]:
    if fields is None:
        return []
    if not isinstance(fields, list):
        return [Problem(path, "The fields must be a list.")]
    problems: list[Problem] = []
    names: set[str] = set()
    for index, field in enumerate(fields):
        f_path = f"{path}[{index}]"
        if not isinstance(field, dict):
            problems.append(Problem(f_path, "A field must be an object with a name and a type."))
            continue
        name = field.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.append(
                Problem(
                    f"{f_path}.name",
                    f"Bad field name {name!r}: lower-case letters, digits and _, starting with a letter.",
                )
            )
        elif name in names:
            problems.append(Problem(f"{f_path}.name", f'Two fields are called "{name}".'))
        else:
            names.add(name)
        field_type = field.get("type")
        if field_type not in set(FieldType):
            known = ", ".join(FieldType)
            problems.append(
                Problem(f"{f_path}.type", f"Unknown field type {field_type!r}: use one of {known}.")
            )
        elif field_type in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
            options = field.get("options")
            if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
                problems.append(
                    Problem(f"{f_path}.options", "A choice field needs a list of options (text).")
                )
        if "required" in field and not isinstance(field["required"], bool):
            problems.append(Problem(f"{f_path}.required", "required must be true or false."))
    return problems


def _check_schema(schema: Any, fields: dict[str, dict[str, Any]], path: str) -> list[Problem]:
    if schema in (None, {}):
        return []
    if not isinstance(schema, dict):
        return [Problem(path, "A schema must be a JSON Schema object.")]
    # shape_problems has kept it within MAX_VALUE_DEPTH and MAX_VALUE_NODES; checking it against
    # the meta-schema still costs time per value, so it runs under the evaluator's limits.
    try:
        invalid = schema_check(schema)
    except ExpressionLimitError as exc:
        return [Problem(path, str(exc))]
    except ExpressionError as exc:
        invalid = str(exc)
    if invalid is not None:
        return [Problem(path, f"Not a valid JSON Schema: {invalid}")]
    problems = []
    if schema.get("type", "object") != "object":
        problems.append(
            Problem(f"{path}.type", 'A task schema describes workflow fields: its type is "object".')
        )
    for name, property_schema in (schema.get("properties") or {}).items():
        if name not in fields:
            problems.append(
                Problem(f"{path}.properties.{name}", f'Unknown field "{name}": not a field of the workflow.')
            )
            continue
        expected = value_schema(fields[name]).get("type")
        declared = property_schema.get("type") if isinstance(property_schema, dict) else None
        declared_types = set(declared) if isinstance(declared, list) else {declared}
        numeric = {"number", "integer"}
        compatible = (
            declared is None
            or expected in declared_types
            or bool(declared_types & numeric and expected in numeric)
        )
        if not compatible:
            problems.append(
                Problem(
                    f"{path}.properties.{name}.type",
                    f'Wrong type "{declared}": the field "{name}" holds {expected}.',
                )
            )
    for name in schema.get("required") or []:
        if not isinstance(name, str) or name not in fields:
            problems.append(
                Problem(f"{path}.required", f'Unknown field "{name}": not a field of the workflow.')
            )
    return problems


def _check_value(value: Any, field: dict[str, Any], path: str) -> list[Problem]:
    try:
        schema = value_schema(field)
    except (KeyError, ValueError):
        return []  # the field itself is reported
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=str)
    return [Problem(path, f"Wrong value for a {field['type']} field: {errors[0].message}")] if errors else []


def _check_ext_ref(ext_ref: Any, path: str) -> list[Problem]:
    if ext_ref in (None, []):
        return []
    if not isinstance(ext_ref, list):
        return [Problem(path, 'External references must be a list of {"label", "description", "uri"}.')]
    problems = []
    for index, ref in enumerate(ext_ref):
        if (
            not isinstance(ref, dict)
            or not str(ref.get("label") or "").strip()
            or not str(ref.get("uri") or "")
        ):
            problems.append(Problem(f"{path}[{index}]", "A reference needs a label and a uri."))
    return problems


def _fields_by_name(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        field["name"]: field
        for field in _list(workflow.get("fields"))
        if isinstance(field, dict)
        and isinstance(field.get("name"), str)
        and field.get("type") in set(FieldType)
    }


def _list(value: Any) -> list[Any]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
