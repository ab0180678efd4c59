"""The small typed vocabulary of workflow fields, as plain data.

A workflow declares its fields as a list of specs:
    {"name": "laptop", "type": "choice", "label": "Laptop", "required": true,
     "help_text": "Pick one", "options": ["13 inch", "15 inch"]}
Tasks read and write these fields; ticket types choose which ones a submitter fills in.
"""

import copy
import re
import unicodedata
from collections.abc import Collection
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class FieldType(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    EMAIL = "email"
    URL = "url"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    FILE = "file"


# What each field type is called on the pages (the fields editor, the assistant's fields table).
TYPE_LABELS: dict[FieldType, Any] = {
    FieldType.TEXT: gettext_lazy("Short text"),
    FieldType.LONG_TEXT: gettext_lazy("Long text"),
    FieldType.NUMBER: gettext_lazy("Number"),
    FieldType.INTEGER: gettext_lazy("Whole number"),
    FieldType.BOOLEAN: gettext_lazy("Yes / no"),
    FieldType.DATE: gettext_lazy("Date"),
    FieldType.DATETIME: gettext_lazy("Date and time"),
    FieldType.EMAIL: gettext_lazy("E-mail address"),
    FieldType.URL: gettext_lazy("Link (URL)"),
    FieldType.CHOICE: gettext_lazy("One from a list"),
    FieldType.MULTI_CHOICE: gettext_lazy("Several from a list"),
    FieldType.FILE: gettext_lazy("File"),
}


# The JSON Schema a value of each field type must satisfy (tasks' input/output schemas and
# submitted data are checked against these).
JSON_SCHEMA: dict[FieldType, dict[str, Any]] = {
    FieldType.TEXT: {"type": "string", "maxLength": 1000},
    FieldType.LONG_TEXT: {"type": "string", "maxLength": 100_000},
    FieldType.NUMBER: {"type": "number"},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.EMAIL: {"type": "string", "format": "email"},
    FieldType.URL: {"type": "string", "format": "uri"},
    FieldType.CHOICE: {"type": "string"},
    FieldType.MULTI_CHOICE: {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    FieldType.FILE: {"type": "integer", "description": "id of a FileUpload"},
}

# A sample value per type, for checking transforms without running a workflow.
SAMPLE: dict[FieldType, Any] = {
    FieldType.TEXT: "text",
    FieldType.LONG_TEXT: "long text",
    FieldType.NUMBER: 1.5,
    FieldType.INTEGER: 1,
    FieldType.BOOLEAN: True,
    FieldType.DATE: "2026-01-31",
    FieldType.DATETIME: "2026-01-31T12:00:00Z",
    FieldType.EMAIL: "someone@example.com",
    FieldType.URL: "https://example.com",
    FieldType.CHOICE: "option",
    FieldType.MULTI_CHOICE: ["option"],
    FieldType.FILE: 1,
}


def value_schema(field: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema for one field's value, choices included."""
    field_type = FieldType(field["type"])
    schema = dict(JSON_SCHEMA[field_type])
    options = field.get("options") or []
    if field_type is FieldType.CHOICE:
        schema["enum"] = list(options)
    elif field_type is FieldType.MULTI_CHOICE:
        schema["items"] = {"type": "string", "enum": list(options)}
    return schema


def sample_value(field: dict[str, Any]) -> Any:
    field_type = FieldType(field["type"])
    options = field.get("options") or []
    if field_type is FieldType.CHOICE and options:
        return options[0]
    if field_type is FieldType.MULTI_CHOICE and options:
        return options[:1]
    return SAMPLE[field_type]


KEY_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")
MAX_KEY_LENGTH = 64


def identifier(text: str) -> str:
    """Words as a name code can use: "Check In" -> "check_in" (ASCII letters, digits and _)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def key_from_title(title: str, *, taken: Collection[str] = ()) -> str:
    """A task key a person need not think about: "Check In" -> "check_in", unique among `taken`."""
    base = identifier(title)[: MAX_KEY_LENGTH - 4] or "task"
    key, number = base, 2
    while key in taken:
        key, number = f"{base}_{number}", number + 1
    return key


def ticket_type_schema(ticket_type: dict[str, Any], workflow_fields: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON Schema of what a submitter sends for a ticket type (bundle entries as given).

    Only the fields the type asks for, presets excluded (they are filled in, never asked);
    unknown keys are refused so nothing a submitter adds reaches the workflow data.
    """
    by_name = {field["name"]: field for field in workflow_fields}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for entry in ticket_type.get("fields") or []:
        field = by_name.get(entry.get("field"))
        if field is None or "preset" in entry:
            continue
        schema = value_schema(field)
        schema["title"] = field.get("label") or field["name"]
        if field.get("help_text"):
            schema["description"] = field["help_text"]
        properties[field["name"]] = schema
        if field.get("required"):
            required.append(field["name"])
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def ticket_type_presets(ticket_type: dict[str, Any]) -> dict[str, Any]:
    """The values a ticket type fills in without asking (copies: the spec may be a cached bundle's)."""
    fields = ticket_type.get("fields") or []
    return {entry["field"]: copy.deepcopy(entry["preset"]) for entry in fields if "preset" in entry}
