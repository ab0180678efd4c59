"""The POST forms of a page, read the way a browser would submit them.

Inputs (text and hidden with their value, checkboxes and radios that are checked, file
inputs left empty), selects (the selected options, or the first one) and textareas, plus the
first named submit button. What a browser cannot submit (disabled controls) is left out.
Every value a control could take is kept too (`choices`), so the replay can find ids among
options nobody selected.
"""

import csv
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import count
from typing import Any

import yaml

NOT_IDS = {"csrfmiddlewaretoken"}
_probe_values = count(1)


@dataclass(frozen=True)
class Upload:
    """A file to send in a form: a CSV export or a YAML bundle A downloaded from the same site."""

    name: str
    text: str

    def swapped(self, names: dict[str, str]) -> tuple["Upload", list[str]]:
        """The same file with every cell or value that is one of `names` (lower-cased) swapped."""
        echoes: list[str] = []

        def swap(value: Any) -> Any:
            if isinstance(value, str) and value.lower() in names:
                echoes.append(names[value.lower()])
                return names[value.lower()]
            if isinstance(value, list):
                return [swap(v) for v in value]
            if isinstance(value, dict):
                return {k: swap(v) for k, v in value.items()}
            return value

        if self.name.endswith(".csv"):
            out = io.StringIO()
            csv.writer(out).writerows(swap(list(csv.reader(io.StringIO(self.text)))))
            return Upload(self.name, out.getvalue()), echoes
        swapped = yaml.safe_dump(swap(yaml.safe_load(self.text)), sort_keys=False, allow_unicode=True)
        return Upload(self.name, swapped), echoes


@dataclass
class Control:
    name: str
    kind: str  # input type, "select", "select-multiple" or "textarea"
    values: list[str]  # what the browser submits
    choices: list[str] = field(default_factory=list)  # what it could submit
    required: bool = False


@dataclass
class Form:
    action: str
    controls: list[Control] = field(default_factory=list)
    enctype: str = ""
    form_id: str = ""

    @property
    def names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.controls)

    def control(self, name: str) -> Control | None:
        return next((c for c in self.controls if c.name == name), None)

    def data(self, defaults: dict[str, str] | None = None) -> dict[str, list[Any]]:
        """The body a person would send: blanks named in `defaults` and required blanks filled in."""
        body: dict[str, list[Any]] = {}
        for c in self.controls:
            values = c.values
            if not any(values) and c.kind not in {"checkbox", "radio", "file"}:
                if defaults and c.name in defaults:
                    values = [defaults[c.name]]
                elif c.required:
                    values = _made_up(c)
            body.setdefault(c.name, []).extend(values)
        return body


def _made_up(control: Control) -> list[str]:
    """A plausible value for an empty required control, so add forms can be valid."""
    if control.kind in {"select", "select-multiple", "checkbox", "radio"}:
        return [next((c for c in control.choices if c), "")]
    n = next(_probe_values)
    return [
        {
            "email": f"probe{n}@alpha-florists.test",
            "url": "https://alpha-florists.test/",
            "number": "1",
            "date": "2030-01-01",
            "password": f"Probe-password-{n}-long",
        }.get(control.kind, f"Alpha probe {n}")
    ]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.by_id: dict[str, Form] = {}
        self.current: Form | None = None
        self.select: Control | None = None
        self.option: dict[str, str | None] | None = None
        self.option_text = ""
        self.textarea: Control | None = None
        self.first_option: str | None = None
        self.pending: list[tuple[str, Control]] = []  # controls naming a form by id (form="...")
        self.submit_seen: set[int] = set()

    def _owner(self, attrs: dict[str, str | None]) -> Form | None:
        if attrs.get("form"):
            return self.by_id.get(str(attrs["form"]))
        return self.current

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attr_list)
        if tag == "form":
            if (attrs.get("method") or "get").lower() == "post":
                self.current = Form(
                    action=attrs.get("action") or "",
                    enctype=attrs.get("enctype") or "",
                    form_id=attrs.get("id") or "",
                )
                self.forms.append(self.current)
                if self.current.form_id:
                    self.by_id[self.current.form_id] = self.current
            else:
                self.current = None
            return
        name = attrs.get("name")
        if tag == "input" and name:
            self._input(attrs, str(name))
        elif tag in {"button"} and name and (attrs.get("type") or "submit") == "submit":
            self._submit(attrs, str(name))
        elif tag == "select" and name:
            kind = "select-multiple" if "multiple" in attrs else "select"
            self.select = Control(str(name), kind, [], required="required" in attrs)
            self.first_option = None
            if "disabled" not in attrs:
                self._add(attrs, self.select)
        elif tag == "option" and self.select is not None:
            self.option = attrs
            self.option_text = ""
        elif tag == "textarea" and name:
            self.textarea = Control(str(name), "textarea", [""], required="required" in attrs)
            if "disabled" not in attrs:
                self._add(attrs, self.textarea)

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea.values[0] += data
        if self.option is not None:
            self.option_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self.select is not None and self.option is not None:
            self._close_option()
        elif tag == "select" and self.select is not None:
            if self.option is not None:
                self._close_option()
            if not self.select.values and self.select.kind == "select" and self.first_option is not None:
                self.select.values = [self.first_option]
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            # The parser keeps the newline right after <textarea>; browsers drop it.
            self.textarea.values[0] = self.textarea.values[0].removeprefix("\n")
            self.textarea = None
        elif tag == "form":
            self.current = None

    def _close_option(self) -> None:
        assert self.select is not None and self.option is not None
        value = self.option.get("value")
        value = self.option_text.strip() if value is None else value
        self.select.choices.append(value)
        if self.first_option is None:
            self.first_option = value
        if "selected" in self.option:
            self.select.values.append(value)
        self.option = None

    def _input(self, attrs: dict[str, str | None], name: str) -> None:
        kind = (attrs.get("type") or "text").lower()
        if kind in {"submit", "image"}:
            self._submit(attrs, name)
            return
        if kind in {"button", "reset"} or "disabled" in attrs:
            return
        value = attrs.get("value")
        if kind in {"checkbox", "radio"}:
            form = self._owner(attrs)
            existing = form.control(name) if form is not None else None
            control = existing or Control(name, kind, [])
            choice = "on" if value is None else value
            control.choices.append(choice)
            if "checked" in attrs:
                control.values.append(choice)
            if existing is None:
                self._add(attrs, control)
            return
        values = [] if kind == "file" else [value or ""]
        self._add(attrs, Control(name, kind, values, required="required" in attrs))

    def _submit(self, attrs: dict[str, str | None], name: str) -> None:
        form = self._owner(attrs)
        if form is None or "disabled" in attrs or id(form) in self.submit_seen:
            return
        self.submit_seen.add(id(form))
        form.controls.append(Control(name, "submit", [attrs.get("value") or ""]))

    def _add(self, attrs: dict[str, str | None], control: Control) -> None:
        if attrs.get("form") and str(attrs["form"]) not in self.by_id:
            self.pending.append((str(attrs["form"]), control))
            return
        form = self._owner(attrs)
        if form is not None:
            form.controls.append(control)


def post_forms(page: str) -> list[Form]:
    """The page's forms with method="post", in page order."""
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    for form_id, control in parser.pending:
        if form_id in parser.by_id:
            parser.by_id[form_id].controls.append(control)
    return parser.forms
