"""Django forms generated from workflow field specs: the submit form and a task's output form.

They give people proper widgets and field errors; the stored React layouts replace them in a
later step. The forms only shape values into JSON — the services validate what enters a run
(the same JSON Schemas the API uses), and their field errors are put back on these forms.
"""

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ticketflower.definitions.fields import FieldType

YES_NO = [("true", _("Yes")), ("false", _("No"))]


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


def _form_field(spec: Mapping[str, Any], *, required: bool) -> forms.Field:
    kind = FieldType(spec["type"])
    common: dict[str, Any] = {
        "label": spec.get("label") or spec["name"],
        "help_text": spec.get("help_text") or "",
        "required": required,
    }
    options = [(option, option) for option in spec.get("options") or []]
    match kind:
        case FieldType.TEXT:
            return forms.CharField(max_length=1000, **common)
        case FieldType.LONG_TEXT:
            return forms.CharField(max_length=100_000, widget=forms.Textarea(attrs={"rows": 4}), **common)
        case FieldType.NUMBER:
            return forms.FloatField(**common)
        case FieldType.INTEGER:
            return forms.IntegerField(**common)
        case FieldType.BOOLEAN:
            # Yes/No radios: an unticked checkbox could not tell "no" from "not answered".
            return forms.TypedChoiceField(
                choices=YES_NO, coerce=lambda v: v == "true", widget=forms.RadioSelect, **common
            )
        case FieldType.DATE:
            return forms.DateField(widget=DateInput, **common)
        case FieldType.DATETIME:
            return forms.DateTimeField(widget=DateTimeInput, **common)
        case FieldType.EMAIL:
            return forms.EmailField(**common)
        case FieldType.URL:
            return forms.URLField(assume_scheme="https", **common)
        case FieldType.CHOICE:
            return forms.ChoiceField(choices=[("", "—"), *options], **common)
        case FieldType.MULTI_CHOICE:
            return forms.MultipleChoiceField(choices=options, widget=forms.CheckboxSelectMultiple, **common)
        case FieldType.FILE:
            return forms.IntegerField(min_value=1, **common)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _initial_value(spec: Mapping[str, Any], value: Any) -> Any:
    if FieldType(spec["type"]) is FieldType.BOOLEAN and isinstance(value, bool):
        return "true" if value else "false"
    return value


class DataForm(forms.Form):
    """A form over some workflow fields; `json_data()` gives the answers as JSON values.

    Optional fields left empty are left out, so a run's data only holds what was given.
    """

    def __init__(
        self,
        specs: Iterable[Mapping[str, Any]],
        *,
        required: Iterable[str] = (),
        initial_data: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        needed = set(required)
        self.specs = {spec["name"]: spec for spec in specs}
        for name, spec in self.specs.items():
            self.fields[name] = _form_field(spec, required=name in needed)
            if initial_data and name in initial_data:
                self.initial[name] = _initial_value(spec, initial_data[name])

    def json_data(self) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if value in (None, "", []):
                continue
            answers[name] = _json_value(value)
        return answers

    def add_field_errors(self, errors: Mapping[str, list[str]]) -> None:
        """Put a service's field errors ("" = the whole form) on the form."""
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


def ticket_form(
    ticket_type_spec: Mapping[str, Any], workflow_fields: list[dict[str, Any]], **kwargs: Any
) -> DataForm:
    """The submit form of a ticket type: the fields it asks for, presets excluded."""
    by_name = {field["name"]: field for field in workflow_fields}
    asked = [
        by_name[entry["field"]]
        for entry in ticket_type_spec.get("fields") or []
        if entry.get("field") in by_name and "preset" not in entry
    ]
    return DataForm(asked, required=[f["name"] for f in asked if f.get("required")], **kwargs)


def task_form(task_spec: Mapping[str, Any], workflow_fields: list[dict[str, Any]], **kwargs: Any) -> DataForm:
    """The form a worker fills in for a FORM task: the fields its output schema names."""
    by_name = {field["name"]: field for field in workflow_fields}
    schema = task_spec.get("output_schema") or {}
    names = [name for name in (schema.get("properties") or {}) if name in by_name]
    return DataForm([by_name[name] for name in names], required=schema.get("required") or [], **kwargs)
