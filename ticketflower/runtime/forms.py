"""Django forms generated from workflow field specs: the submit form and a task's output form.

They give people proper widgets and field errors, and they are the fallback wherever a stored
React layout cannot be shown. A layout's answers arrive as JSON (`LAYOUT_VALUES`) and pass
through the same form (`layout_form_data`), so nothing a layout sends is trusted more than a
typed answer. The forms only shape values into JSON — the services validate what enters a
run (the same JSON Schemas the API uses), and their field errors are put back on these forms.
"""

import datetime
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from ticketflower.accounts.models import User
from ticketflower.definitions.fields import FieldType
from ticketflower.files.services import FileRefused, file_upload

YES_NO = [("true", _("Yes")), ("false", _("No"))]
# The hidden input a layout's host writes its values into (JSON); absent: the typed form.
LAYOUT_VALUES = "layout_values"
MAX_LAYOUT_VALUES_BYTES = 1024 * 1024


class LayoutValuesInvalid(ValueError):
    pass


def layout_form_data(posted: QueryDict) -> QueryDict:
    """The form data a layout's JSON answers stand for, or `posted` when no layout answered.

    Values become the strings a browser would have sent; the form then checks them exactly as
    it checks typed answers (types, choices, required), so a layout is never trusted.
    """
    text = posted.get(LAYOUT_VALUES) or ""
    if not text:
        return posted
    if len(text) > MAX_LAYOUT_VALUES_BYTES:
        raise LayoutValuesInvalid(_("The answers are too large."))
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise LayoutValuesInvalid(_("The answers could not be read.")) from exc
    if not isinstance(values, dict):
        raise LayoutValuesInvalid(_("The answers could not be read."))
    data = QueryDict(mutable=True)
    data[LAYOUT_VALUES] = "1"  # what a field left out means (UploadInput: cleared)
    for name, value in values.items():
        if isinstance(value, list):
            data.setlist(str(name), [_form_text(item) for item in value])
        elif value is not None:
            data[str(name)] = _form_text(value)
    return data


def posted_form(make: Callable[..., "DataForm"], posted: QueryDict, files: Any = None) -> "DataForm":
    """`make(data=..., files=...)` bound to what was posted: a layout's answers or the typed fields.

    Answers that cannot be read leave the typed fields bound, with the reason as the form's error.
    """
    try:
        return make(data=layout_form_data(posted), files=files)
    except LayoutValuesInvalid as exc:
        form = make(data=posted, files=files)
        form.add_error(None, str(exc))
        return form


def form_values(form: "DataForm") -> dict[str, Any]:
    """What a layout shows a bound form holding: its answers as JSON values, kept as typed."""
    if not form.is_bound:
        return dict(form.initial_values)
    values: dict[str, Any] = {}
    for name, spec in form.specs.items():
        if name in form.data:
            raw = form.data.getlist(name) if hasattr(form.data, "getlist") else form.data[name]
            values[name] = _json_answer(spec, raw)
    return values


def _json_answer(spec: Mapping[str, Any], raw: Any) -> Any:
    kind = FieldType(spec["type"])
    if kind is FieldType.MULTI_CHOICE:
        return [str(item) for item in raw] if isinstance(raw, list) else [str(raw)]
    text = raw[-1] if isinstance(raw, list) and raw else raw
    if kind is FieldType.BOOLEAN and text in ("true", "false"):
        return text == "true"
    if kind in (FieldType.NUMBER, FieldType.INTEGER, FieldType.FILE):
        try:
            number = float(text)
        except (TypeError, ValueError):
            return text
        if not math.isfinite(number):
            return text
        if number.is_integer():
            return int(number)
        return number if kind is FieldType.NUMBER else text  # "2.5" as a whole number: shown as typed
    return text


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)  # no field takes these: the form refuses them
    return str(value)


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
            return UploadField(**common)


class UploadInput(forms.ClearableFileInput):
    """A file input that also takes an upload's id sent as text (what a layout sends)."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        uploaded = super().value_from_datadict(data, files, name)
        if uploaded not in (None, False):
            return uploaded
        if data.get(name):
            return data.get(name)
        # A layout leaves out a file it removed; a typed form's empty input keeps the saved one.
        return False if data.get(LAYOUT_VALUES) else uploaded

    def is_initial(self, value: Any) -> bool:
        return False  # an id, not a stored file with a URL to show


class UploadField(forms.FileField):
    """A file: a new upload (stored by `DataForm.store_uploads`) or the id of one made before."""

    widget = UploadInput

    def to_python(self, data: Any) -> Any:
        if isinstance(data, str | int) and not isinstance(data, bool):
            text = str(data).strip()
            # ASCII digits only ("²".isdigit() is true too), and no longer than an id can be.
            if not (text.isascii() and text.isdigit() and len(text) <= 18) or int(text) < 1:
                raise forms.ValidationError(_("Choose a file."), code="invalid")
            return int(text)
        return super().to_python(data)

    def bound_data(self, data: Any, initial: Any) -> Any:
        return initial if data in (None, "", False) else data

    def has_changed(self, initial: Any, data: Any) -> bool:
        return data not in (None, "", False) and data != initial


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
        self.initial_values = {k: v for k, v in (initial_data or {}).items() if k in self.specs}
        for name, spec in self.specs.items():
            self.fields[name] = _form_field(spec, required=name in needed)
            if initial_data and name in initial_data:
                self.initial[name] = _initial_value(spec, initial_data[name])

    def json_data(self) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if value in (None, "", []) or (value is False and isinstance(self.fields[name], UploadField)):
                continue  # left empty (False: a file input's "Clear")
            answers[name] = _json_value(value)
        return answers

    def store_uploads(self, uploader: User) -> bool:
        """Store each new upload as `uploader`'s and put its id in its place.

        False, with the reason on its field, when the files service refuses one.
        """
        for name, value in list(self.cleaned_data.items()):
            if isinstance(value, UploadedFile):
                try:
                    self.cleaned_data[name] = file_upload(user=uploader, uploaded=value).pk
                except FileRefused as exc:
                    self.add_error(name, str(exc))
        return not self.errors

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
