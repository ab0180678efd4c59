"""The portal's forms: a ticket type's form in unfold's look, and the My tickets filters."""

from typing import Any

from django import forms
from django.utils.html import conditional_escape
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    BASE_INPUT_CLASSES,
    INPUT_CLASSES,
    TEXTAREA_CLASSES,
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelectWidget,
)

from ticketflower.portal.selectors import SORTS, TAB_STATUSES, TypeChoice
from ticketflower.runtime.forms import DataForm
from ticketflower.runtime.models import WorkflowStatus


def styled(form: DataForm) -> DataForm:
    """`form` with unfold's widgets and classes; help texts as plain text.

    A workflow's help texts are written by its designers; unfold's field template prints help
    text as HTML, so it is escaped here and shows exactly as typed.
    """
    for field in form.fields.values():
        widget = field.widget
        # CheckboxSelectMultiple is a RadioSelect to Django: it goes first.
        if isinstance(widget, forms.CheckboxSelectMultiple):
            field.widget = UnfoldAdminCheckboxSelectMultipleWidget(choices=getattr(field, "choices", ()))
            field.widget.option_template_name = "portal/widgets/choice_option.html"
        elif isinstance(widget, forms.RadioSelect):
            field.widget = UnfoldAdminRadioSelectWidget(choices=getattr(field, "choices", ()))
            field.widget.option_template_name = "portal/widgets/choice_option.html"
        elif isinstance(widget, forms.Select):
            field.widget = UnfoldAdminSelectWidget(choices=getattr(field, "choices", ()))
        elif isinstance(widget, forms.Textarea):
            _add_classes(widget, TEXTAREA_CLASSES)
        elif isinstance(widget, forms.DateInput | forms.DateTimeInput):
            _add_classes(widget, [*BASE_INPUT_CLASSES, "max-w-2xl"])
        else:
            _add_classes(widget, INPUT_CLASSES)
        if field.help_text:
            field.help_text = conditional_escape(field.help_text)
    return form


def _add_classes(widget: forms.Widget, classes: list[str]) -> None:
    widget.attrs["class"] = " ".join([widget.attrs.get("class", ""), *classes]).strip()


SORT_CHOICES = [
    ("-submitted", _("Newest first")),
    ("submitted", _("Oldest first")),
    ("-updated", _("Recently updated")),
    ("updated", _("Least recently updated")),
    ("type", _("Ticket type (A to Z)")),
    ("-type", _("Ticket type (Z to A)")),
]
TAB_CHOICES = [("active", _("Active")), ("closed", _("Closed")), ("all", _("All"))]


class TicketFilterForm(forms.Form):
    """My tickets' query string; a value that does not fit is simply not applied."""

    tab = forms.ChoiceField(choices=TAB_CHOICES, required=False, widget=forms.HiddenInput)
    # Any release's id of a type (a link may be older than the choices): the selector resolves it.
    type = forms.IntegerField(label=_("Ticket type"), required=False, min_value=1)
    status = forms.ChoiceField(label=_("Status"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORT_CHOICES, required=False)

    def __init__(self, *args: Any, type_choices: list[TypeChoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tab = str(self.data.get("tab") or "active")
        tab = tab if tab in TAB_STATUSES else "active"
        choices: dict[str, list[tuple[str, Any]]] = {
            "type": [("", _("Every type")), *((str(c.type_id), c.title) for c in type_choices)],
            "status": [
                ("", _("Every status")),
                *((s.value, s.label) for s in WorkflowStatus if s in TAB_STATUSES[tab]),
            ],
            "sort": SORT_CHOICES,
        }
        for name, options in choices.items():
            field = self.fields[name]
            if isinstance(field, forms.ChoiceField):
                field.choices = options
            field.widget = UnfoldAdminSelectWidget(choices=options)

    def value(self, name: str, default: Any) -> Any:
        """The cleaned value of `name`, or `default` when it was missing or did not fit."""
        if not self.is_valid() and name in self.errors:
            return default
        return self.cleaned_data.get(name) or default


def sort_value(text: str) -> tuple[str, bool]:
    """("submitted", True) from "-submitted"; unknown names sort by submission, newest first."""
    name = text.removeprefix("-")
    if name not in SORTS:
        return "submitted", True
    return name, text.startswith("-")
