"""A structured editor for a workflow's data fields, instead of a raw JSON text box.

One row per field (name, type, label, required, help text, options, remove) plus a few blank
rows, so it works without JavaScript; admin_sites/fields_editor.js adds rows and fills the name
from the label. The value saved is exactly the bundle's field list (docs/bundle-format.md):
`{name, type, label, required, help_text, options}` with empty optional keys left out.

Inputs are named `<field>-<row>-<part>`, rows counted from 0; messages name rows as the screen
shows them, counted from 1.
"""

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.widgets import BASE_INPUT_CLASSES, CHECKBOX_CLASSES, SELECT_CLASSES

from ticketflower.definitions.fields import NAME_PATTERN, TYPE_LABELS, FieldType, identifier

PARTS = ("name", "type", "label", "required", "help_text", "options", "remove")
TEXT_PARTS = ("name", "label", "help_text", "options")
BLANK_ROWS = 3
MAX_ROWS = 300  # above any sane workflow; keeps a crafted POST from costing much
LABEL_MAX = 255  # the bundle's limits (validation.FIELD_SHAPE)
HELP_TEXT_MAX = 1000
CHOICE_TYPES = (FieldType.CHOICE, FieldType.MULTI_CHOICE)
ERROR_PARTS = {  # which input of the row an error is about
    "no_name": "label",
    "no_type": "type",
    "label": "label",
    "help_text": "help_text",
    "no_options": "options",
    "duplicate_option": "options",
}


def field_name_from_label(label: str) -> str:
    """ "Laptop model" -> "laptop_model"; "" when nothing usable is left. The JS does the same."""
    text = identifier(label)
    if text[:1].isdigit():
        text = f"field_{text}"
    return text[:63].rstrip("_")


def options_text(options: Any) -> str:
    """Options as the editor shows them: comma-separated, or one per line when one has a comma."""
    if not isinstance(options, list):
        return str(options or "")
    texts = [str(option) for option in options]
    return ("\n" if any("," in text for text in texts) else ", ").join(texts)


def parse_options(text: str) -> list[str]:
    """One option per line, or comma-separated when it is all on one line; blanks dropped."""
    lines = [line for line in text.splitlines() if line.strip()]
    parts = lines if len(lines) > 1 else text.split(",")
    return [part.strip() for part in parts if part.strip()]


def fields_form_data(name: str, fields: list[dict[str, Any]]) -> dict[str, str]:
    """The POST data the editor sends for `fields` (for scripts and tests)."""
    data: dict[str, str] = {}
    for row, spec in enumerate(fields):
        prefix = f"{name}-{row}-"
        data |= {
            f"{prefix}name": str(spec.get("name", "")),
            f"{prefix}type": str(spec.get("type", "")),
            f"{prefix}label": str(spec.get("label", "")),
            f"{prefix}help_text": str(spec.get("help_text", "")),
            f"{prefix}options": options_text(spec.get("options")),
        }
        if spec.get("required"):
            data[f"{prefix}required"] = "on"
    return data


def _row(item: Any) -> dict[str, Any]:
    """A row to show, from a saved field spec or from a submitted row."""
    item = item if isinstance(item, dict) else {}
    return {
        "name": str(item.get("name") or ""),
        "type": str(item.get("type") or FieldType.TEXT),
        "label": str(item.get("label") or ""),
        "required": item.get("required") is True,
        "help_text": str(item.get("help_text") or ""),
        "options": options_text(item.get("options")),
        "remove": item.get("remove") is True,
    }


def _own_errors_only(classes: list[str]) -> str:
    """unfold's input classes without the red border every input of a field with errors gets:
    here only the inputs of the rows in error turn red (aria-invalid)."""
    return " ".join(name for name in classes if "group-[.errors]" not in name)


class WorkflowFieldsWidget(forms.Widget):
    template_name = "admin_sites/widgets/workflow_fields.html"
    blank_rows = BLANK_ROWS

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        # Set by WorkflowFieldsField.clean: row number -> (messages, the parts in error).
        self.row_errors: dict[int, tuple[list[str], set[str]]] = {}

    class Media:
        js = ["admin_sites/fields_editor.js"]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        if isinstance(value, str):  # an initial value given as JSON text
            try:
                value = json.loads(value)
            except ValueError:
                value = []
        rows = [_row(item) for item in value] if isinstance(value, list) else []
        # Submitted rows come back as they were, so "Row 3" in a message is still row 3.
        trailing = 0
        for row in reversed(rows):
            if any(row[part] for part in TEXT_PARTS):
                break
            trailing += 1
        rows += [_row({}) for _blank in range(max(self.blank_rows - trailing, 0))]
        context["widget"] |= {
            "rows": [
                {
                    **row,
                    "number": number,
                    "index": number - 1,
                    "prefix": f"{name}-{number - 1}",
                    "errors": self.row_errors.get(number, ([], set()))[0],
                    "invalid": self.row_errors.get(number, ([], set()))[1],
                }
                for number, row in enumerate(rows, 1)
            ],
            # The row the script copies: it replaces __prefix__ and __number__.
            "blank": {
                **_row({}),
                "number": "__number__",
                "index": "__prefix__",
                "prefix": f"{name}-__prefix__",
            },
            "headings": ["#", _("Label"), _("Name"), _("Type"), "", ""],
            "types": [(str(field_type), str(label)) for field_type, label in TYPE_LABELS.items()],
            "choice_types": " ".join(CHOICE_TYPES),
            "input_class": _own_errors_only(BASE_INPUT_CLASSES),
            "select_class": _own_errors_only(SELECT_CLASSES),
            "checkbox_class": " ".join(CHECKBOX_CLASSES),
            "label_max": LABEL_MAX,
            "help_text_max": HELP_TEXT_MAX,
        }
        return context

    def id_for_label(self, id_: str) -> str:
        return f"{id_}-0-label" if id_ else ""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, Any]]:
        """The submitted rows in screen order, each with its `row` number; nothing is checked yet."""
        pattern = re.compile(rf"^{re.escape(name)}-(\d{{1,4}})-({'|'.join(PARTS)})$")
        indexes = sorted({int(match[1]) for key in data if (match := pattern.match(key))})
        rows = []
        for number, index in enumerate(indexes[:MAX_ROWS], 1):
            prefix = f"{name}-{index}-"
            row: dict[str, Any] = {part: str(data.get(prefix + part) or "") for part in TEXT_PARTS}
            row["type"] = str(data.get(prefix + "type") or "")
            row["required"] = prefix + "required" in data
            row["remove"] = prefix + "remove" in data
            row["row"] = number
            rows.append(row)
        return rows

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return not any(str(key).startswith(f"{name}-") for key in data)


class WorkflowFieldsField(forms.Field):
    """The workflow's field list, edited row by row; errors name the row in plain words."""

    default_error_messages = {"invalid": gettext_lazy("These fields could not be read.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", WorkflowFieldsWidget)
        kwargs.setdefault(
            "help_text",
            gettext_lazy(
                "One row per piece of data the workflow keeps. Empty rows are ignored; the name is "
                "made from the label if you leave it empty."
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        """The field list; on errors, the widget learns which rows and inputs to mark."""
        widget = self.widget
        if not isinstance(widget, WorkflowFieldsWidget):  # another widget was given: nothing to mark
            return super().clean(value)
        widget.row_errors = {}
        try:
            return super().clean(value)
        except ValidationError as error:
            for item in error.error_list:
                params = item.params or {}
                if isinstance(params, dict) and "row" in params:
                    messages, parts = widget.row_errors.setdefault(params["row"], ([], set()))
                    messages.append(str(next(iter(item))).split(": ", 1)[-1])
                    parts.add(ERROR_PARTS.get(item.code or "", "name"))
            raise

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        if value in self.empty_values:
            return []
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        specs: list[dict[str, Any]] = []
        errors: list[ValidationError] = []
        used: dict[str, int] = {}
        for position, raw in enumerate(value, 1):
            row = {**_row(raw), "type": str(raw.get("type") or ""), "remove": raw.get("remove") is True}
            number = raw.get("row", position)
            if row["remove"] or not any(row[part].strip() for part in TEXT_PARTS):
                continue
            spec, problems = self._spec(row, number, used)
            errors += problems
            if spec is not None:
                specs.append(spec)
        if errors:
            raise ValidationError(errors)
        return specs

    def _spec(
        self, row: dict[str, Any], number: int, used: dict[str, int]
    ) -> tuple[dict[str, Any] | None, list[ValidationError]]:
        errors: list[ValidationError] = []

        def problem(message: str, code: str, **params: Any) -> None:
            errors.append(ValidationError(message, code=code, params={"row": number, **params}))

        label = " ".join(row["label"].split())
        name = row["name"].strip()
        derived = not name
        if derived:
            name = field_name_from_label(label)
            if not name:
                problem(
                    _("Row %(row)s: give the field a name (lower-case letters, digits and _)."), "no_name"
                )
        if name and not NAME_PATTERN.match(name):
            suggestion = field_name_from_label(name)
            if len(name) > 63:
                problem(_("Row %(row)s: the name may have at most 63 characters."), "name_too_long")
            elif re.fullmatch(r"[a-z0-9_]+", name):
                problem(
                    _("Row %(row)s: the name “%(name)s” must start with a letter — try “%(suggestion)s”."),
                    "name_start",
                    name=name,
                    suggestion=suggestion,
                )
            elif suggestion:
                problem(
                    _(
                        "Row %(row)s: the name “%(name)s” may only have lower-case letters, digits and _"
                        " — try “%(suggestion)s”."
                    ),
                    "name_characters",
                    name=name,
                    suggestion=suggestion,
                )
            else:
                problem(
                    _("Row %(row)s: the name “%(name)s” may only have lower-case letters, digits and _."),
                    "name_characters",
                    name=name,
                )
        elif name in used:
            message = (
                _(
                    "Row %(row)s: the name “%(name)s” (made from the label) is already used in row "
                    "%(other)s — type another name."
                )
                if derived
                else _("Row %(row)s: the name “%(name)s” is already used in row %(other)s.")
            )
            problem(message, "duplicate_name", name=name, other=used[name])
        elif name:
            used[name] = number

        field_type = row["type"]
        if field_type not in set(FieldType):
            problem(_("Row %(row)s: choose a type."), "no_type")
        if len(label) > LABEL_MAX:
            problem(_("Row %(row)s: the label may have at most %(max)s characters."), "label", max=LABEL_MAX)
        help_text = row["help_text"].strip()
        if len(help_text) > HELP_TEXT_MAX:
            problem(
                _("Row %(row)s: the help text may have at most %(max)s characters."),
                "help_text",
                max=HELP_TEXT_MAX,
            )
        options = parse_options(row["options"]) if field_type in CHOICE_TYPES else []
        if field_type in CHOICE_TYPES:
            if not options:
                problem(
                    _("Row %(row)s: a list field needs its options: one per line, or separated by commas."),
                    "no_options",
                )
            for option in dict.fromkeys(o for o in options if options.count(o) > 1):
                problem(
                    _("Row %(row)s: the option “%(option)s” is listed twice."),
                    "duplicate_option",
                    option=option,
                )
        if errors:
            return None, errors
        spec: dict[str, Any] = {"name": name, "type": field_type}
        if label:
            spec["label"] = label
        if row["required"]:
            spec["required"] = True
        if help_text:
            spec["help_text"] = help_text
        if options:
            spec["options"] = options
        return spec, []

    def prepare_value(self, value: Any) -> Any:
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        try:
            before = self.to_python([_row(item) for item in initial] if isinstance(initial, list) else [])
        except ValidationError:
            before = initial
        try:
            return bool(self.to_python(data) != before)
        except ValidationError:
            return True
