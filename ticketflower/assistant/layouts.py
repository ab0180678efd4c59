"""Layouts the assistant writes for a proposal: plain TSX a designer can read and edit.

Better than the bare defaults (`layouts.slots.default_source`): fields are grouped (contact
details, the request itself, attachments), short fields sit side by side, a task's form says
what the task is for. Labels, help texts and required marks come from the kit's `Field`.
"""

import re
from typing import Any

from ticketflower.layouts.slots import jsx_string

_CONTACT = re.compile(
    r"\b(name|email|e_mail|phone|mobile|address|street|postcode|zip|city|company|contact)\b"
)
_WIDE = {"long_text", "file", "multi_choice"}


def task_layouts(bundle: dict[str, Any], task: dict[str, Any]) -> dict[str, str]:
    """The edit (the task's output) and display (its input) layouts of one task."""
    by_name = _fields(bundle)
    outputs = _names(task.get("output_schema"), by_name)
    inputs = _names(task.get("input_schema"), by_name)
    title = str(task.get("title") or "")
    description = str(task.get("description") or "")
    idle = (
        "Nothing to fill in: complete it when it is done."
        if task.get("type") == "FORM"
        else "This step runs by itself: nothing to fill in."
    )
    if outputs:
        edit_body = _groups([by_name[n] for n in outputs], single_title=title, description=description)
    else:
        edit_body = _section(
            title,
            description,
            [_line(f"<Text muted>{jsx_string(idle)}</Text>")],
        )
    display_body = (
        _groups([by_name[n] for n in inputs], single_title="What this step works with", description="")
        if inputs
        else [_line('<Text muted>{"This step reads no data."}</Text>')]
    )
    return {
        "edit_layout": _module(edit_body, "the task's form"),
        "display_layout": _module(display_body, "what the task works with"),
    }


def ticket_layouts(bundle: dict[str, Any], ticket_type: dict[str, Any]) -> dict[str, str]:
    """The submit form and the ticket's display of one ticket type."""
    by_name = _fields(bundle)
    asked = [
        by_name[e["field"]]
        for e in ticket_type.get("fields") or []
        if e.get("field") in by_name and "preset" not in e
    ]
    title = str(ticket_type.get("title") or "")
    description = str(ticket_type.get("description") or "")
    if asked:
        # The portal shows the ticket type's description above its form already.
        body = _groups(asked, single_title=title, description="")
    else:
        body = _section(title, description, [_line('<Text muted>{"Nothing to fill in."}</Text>')])
    return {
        "edit_layout": _module(body, "the submit form"),
        "display_layout": _module(
            _groups(asked, single_title=title, description="") if asked else body, "a ticket"
        ),
    }


def _fields(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in bundle["workflow"].get("fields") or []}


def _names(schema: Any, by_name: dict[str, dict[str, Any]]) -> list[str]:
    properties = (schema or {}).get("properties") or {}
    return [name for name in by_name if name in properties]


def _groups(fields: list[dict[str, Any]], *, single_title: str, description: str) -> list[str]:
    contact = [f for f in fields if _CONTACT.search(f["name"].replace("_", " ")) and f["type"] != "file"]
    files = [f for f in fields if f["type"] == "file"]
    rest = [f for f in fields if f not in contact and f not in files]
    groups = [(t, g) for t, g in (("Contact", contact), ("Details", rest), ("Attachments", files)) if g]
    if len(groups) == 1:
        return _section(single_title, description, _field_lines(fields))
    lines: list[str] = []
    if description:
        lines.append(_line(f"<Text muted>{jsx_string(description)}</Text>"))
    for title, group in groups:
        lines += _section(title, "", _field_lines(group))
    return lines


def _field_lines(fields: list[dict[str, Any]]) -> list[str]:
    """Short fields two to a row, wide ones (notes, files, several choices) on their own."""
    lines: list[str] = []
    pair: list[str] = []

    def flush() -> None:
        if len(pair) == 2:
            lines.append(_line("<Columns count={2}>"))
            lines.extend(_line(p, 1) for p in pair)
            lines.append(_line("</Columns>"))
        else:
            lines.extend(_line(p) for p in pair)
        pair.clear()

    for f in fields:
        tag = f"<Field name={jsx_string(f['name'])} />"
        if f["type"] in _WIDE:
            flush()
            lines.append(_line(tag))
        else:
            pair.append(tag)
            if len(pair) == 2:
                flush()
    flush()
    return lines


def _section(title: str, description: str, body: list[str]) -> list[str]:
    described = f" description={jsx_string(description)}" if description else ""
    return [
        _line(f"<Section title={jsx_string(title)}{described}>"),
        *(f"  {line}" for line in body),
        _line("</Section>"),
    ]


def _line(text: str, indent: int = 0) -> str:
    return "  " * indent + text


def _module(body: list[str], what: str) -> str:
    used = sorted({"Form", *re.findall(r"<(Field|Section|Columns|Text)\b", "\n".join(body))})
    inner = "\n".join("        " + line for line in body)
    return (
        f'import {{ {", ".join(used)} }} from "@ticketflower/kit";\n\n'
        f"// Written by the assistant for {what}. Edit it freely.\n"
        "export default function Layout() {\n"
        "  return (\n"
        "    <Form>\n"
        f"{inner}\n"
        "    </Form>\n"
        "  );\n"
        "}\n"
    )
