"""Where a bundle holds layouts, what each one covers, and the default for an empty one.

A slot is one layout of a bundle: its path (the same path validation problems use), its kind,
the field specs it covers and the source as written. An empty source gets a default generated
from the fields, so every published workflow is usable; the default is TSX like any other,
compiled and frozen with the release, and a good starting point to edit.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TICKET_EDIT = "ticket_edit"
    TICKET_DISPLAY = "ticket_display"
    TASK_EDIT = "task_edit"
    TASK_DISPLAY = "task_display"
    WORKFLOW_DISPLAY = "workflow_display"


@dataclass(frozen=True)
class Slot:
    path: str  # "ticket_types[0].edit_layout"
    kind: Kind
    title: str
    fields: tuple[dict[str, Any], ...]  # the specs it covers, `required` as this place asks
    source: str  # as written; "" = the default

    @property
    def mode(self) -> str:
        return "edit" if self.kind in (Kind.TICKET_EDIT, Kind.TASK_EDIT) else "display"

    def effective_source(self) -> str:
        return self.source if self.source.strip() else default_source(self)


def bundle_slots(bundle: Mapping[str, Any]) -> list[Slot]:
    """Every layout of a (shape-valid) bundle, the empty ones included."""
    workflow = bundle.get("workflow") or {}
    all_fields = [f for f in workflow.get("fields") or [] if isinstance(f, dict) and f.get("name")]
    by_name = {f["name"]: f for f in all_fields}
    slots = [
        Slot(
            "workflow.display_layout",
            Kind.WORKFLOW_DISPLAY,
            str(workflow.get("title") or ""),
            tuple(_spec(f) for f in all_fields),
            str(workflow.get("display_layout") or ""),
        )
    ]
    for index, task in enumerate(t for t in workflow.get("tasks") or [] if isinstance(t, dict)):
        title = str(task.get("title") or "")
        for name, kind, schema in (
            ("edit_layout", Kind.TASK_EDIT, task.get("output_schema")),
            ("display_layout", Kind.TASK_DISPLAY, task.get("input_schema")),
        ):
            slots.append(
                Slot(
                    f"workflow.tasks[{index}].{name}",
                    kind,
                    title,
                    schema_fields(schema, by_name),
                    str(task.get(name) or ""),
                )
            )
    for index, ticket_type in enumerate(t for t in bundle.get("ticket_types") or [] if isinstance(t, dict)):
        asked = ticket_type_fields(ticket_type, by_name)
        title = str(ticket_type.get("title") or "")
        for name, kind in (("edit_layout", Kind.TICKET_EDIT), ("display_layout", Kind.TICKET_DISPLAY)):
            slots.append(
                Slot(f"ticket_types[{index}].{name}", kind, title, asked, str(ticket_type.get(name) or ""))
            )
    return slots


def slot_at(bundle: Mapping[str, Any], path: str) -> Slot | None:
    return next((slot for slot in bundle_slots(bundle) if slot.path == path), None)


def schema_fields(schema: Any, by_name: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The workflow fields a task's JSON Schema names, required as the schema says."""
    schema = schema if isinstance(schema, dict) else {}
    required = set(schema.get("required") or [])
    properties = schema.get("properties") or {}
    # In the workflow's order: a schema stored as jsonb comes back with its keys sorted.
    names = [name for name in by_name if name in properties]
    return tuple(_spec(by_name[name], required=name in required) for name in names)


def ticket_type_fields(
    ticket_type: dict[str, Any], by_name: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], ...]:
    """The fields a ticket type asks for, presets left out (they are filled in, never asked)."""
    entries = [e for e in ticket_type.get("fields") or [] if isinstance(e, dict)]
    return tuple(
        _spec(by_name[e["field"]]) for e in entries if e.get("field") in by_name and "preset" not in e
    )


def _spec(field: dict[str, Any], *, required: bool | None = None) -> dict[str, Any]:
    """A field spec as a layout receives it: only the keys the contract names."""
    spec = {
        "name": field["name"],
        "type": field.get("type") or "text",
        "label": field.get("label") or field["name"],
        "required": bool(field.get("required")) if required is None else required,
        "help_text": field.get("help_text") or "",
    }
    if field.get("options"):
        spec["options"] = list(field["options"])
    return spec


# --- defaults --------------------------------------------------------------------------------


def default_source(slot: Slot) -> str:
    """A plain, complete layout for `slot`: every field it covers, in order, under its title."""
    if slot.kind is Kind.WORKFLOW_DISPLAY:
        return _WORKFLOW_DISPLAY.format(title=jsx_string("Steps"))
    if not slot.fields:
        body = (
            '        <Text>{"Nothing to fill in."}</Text>'
            if slot.mode == "edit"
            else '        <Text>{"—"}</Text>'
        )
    else:
        body = "\n".join(f"        <Field name={jsx_string(f['name'])} />" for f in slot.fields)
    return _FORM.format(title=jsx_string(slot.title), body=body)


def jsx_string(text: str) -> str:
    # A JSON string is a valid JS string literal; inside braces it is never read as JSX.
    return "{" + json.dumps(text, ensure_ascii=False).replace("</", "<\\/") + "}"


_FORM = """import {{ Field, Form, Section, Text }} from "@ticketflower/kit";

// Generated from the fields. Edit it freely; an empty layout gets this default again.
export default function Layout() {{
  return (
    <Form>
      <Section title={title}>
{body}
      </Section>
    </Form>
  );
}}
"""

_WORKFLOW_DISPLAY = """import {{ AutoDisplay, Section, Stack, TaskList }} from "@ticketflower/kit";

// Generated: what the ticket holds so far, and its steps. Edit it freely.
export default function Layout() {{
  return (
    <Stack>
      <AutoDisplay filled />
      <Section title={title}>
        <TaskList />
      </Section>
    </Stack>
  );
}}
"""
