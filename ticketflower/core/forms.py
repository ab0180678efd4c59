from typing import Any

from django import forms
from unfold.widgets import BASE_INPUT_CLASSES, CHECKBOX_CLASSES


class UnfoldStyledFormMixin:
    """Give a plain Django form unfold's input styles, so portal pages match the admin sites."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            classes = CHECKBOX_CLASSES if isinstance(widget, forms.CheckboxInput) else BASE_INPUT_CLASSES
            widget.attrs["class"] = " ".join([widget.attrs.get("class", ""), *classes]).strip()
