"""Submit A's own forms as A would, then again carrying B's ids.

For every page A's people can open with A's own ids, each POST form on it is sent:

1. unchanged (as a person pressing the button would; required blanks filled in, every row of a
   list selected and each list action chosen in turn) — the sanity check that the form is
   valid, so the hostile variants below reach the code that writes. A redirect, a file or a
   success message is "accepted";
2. once per field holding an id (a hidden id, a select, checkboxes; an inline row's id, a
   list selection), with that id replaced by B's id of the same model — and once per text field
   naming a thing by its natural key (a transition's task key, a person's e-mail);
3. with its valid body, to the same URL filled with B's ids instead of A's.

Pages a POST answers with another form (a delete confirmation, the reassign page) are
replayed the same way. Every request runs in a savepoint that is rolled back, so A's data is
the same for every form; inside it, the response (and the pages it redirects to) must not
show B's marker and B's snapshot must not change.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from conftest import Tenant
from tests.factories import PASSWORD
from ticketflower.accounts.models import User
from ticketflower.definitions.models import (
    ReleaseTicketType,
    TaskDefinition,
    TicketDefinition,
    WorkflowDefinition,
    WorkflowRelease,
)
from ticketflower.runtime.models import WorkflowInstance
from ticketflower.tenancy.models import CompanyRole

from .detect import assert_nothing_of_b, assert_unchanged, send
from .forms import Form, Upload, post_forms
from .marked_data import company_models, owned_rows, snapshot
from .routes import Route, all_routes, fillings, model_for

# Field names that say which model an id is of (the last part of an inline field's name).
HINTS: dict[str, list[type[models.Model]]] = {
    "workflow": [WorkflowDefinition],
    "replace": [WorkflowDefinition],
    "role": [CompanyRole],
    "roles": [CompanyRole],
    "allowed_roles": [CompanyRole],
    "worker_role": [CompanyRole],
    "company_roles": [CompanyRole],
    "assigned_to": [User],
    "user": [User],
    "created_by": [User],
    "from_task": [TaskDefinition],
    "to_task": [TaskDefinition],
    "task": [TaskDefinition],
    "task_definition": [TaskDefinition],
    "release": [WorkflowRelease],
    "rolled_back_to": [WorkflowRelease],
    "ticket_type": [ReleaseTicketType, TicketDefinition],
    "workflow_instance": [WorkflowInstance],
}
ROW_IDS = {"id", "pk", "object_id", "_selected_action"}  # ids of the page's (or inline's) own model
NOT_IDS = {"csrfmiddlewaretoken", "select_across", "index", "TOTAL_FORMS", "INITIAL_FORMS"}
NOT_IDS |= {"MIN_NUM_FORMS", "MAX_NUM_FORMS", "resource", "format"}
NEW_PASSWORD = "Probe-new-password-7f3k"
ID_KINDS = {"hidden", "select", "select-multiple", "checkbox", "radio"}


@dataclass
class Outcome:
    accepted: list[str] = field(default_factory=list)  # "<url name> [variant]" of forms accepted
    refused: dict[str, str] = field(default_factory=dict)  # label: why (status, first error shown)
    hostile: list[str] = field(default_factory=list)  # labels of the POSTs carrying B's ids


class _Undo(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a savepoint and undo it, so every replay starts from the same data."""
    try:
        with transaction.atomic():
            yield
            raise _Undo
    except _Undo:
        pass


@dataclass
class FormReplay:
    """Replays every form `attacker`'s people meet on their own pages; `victim`'s data must hold.

    `run(actors)` fails at the first response showing the victim's marker, the first change to
    the victim's snapshot, or the first server error, naming the request; otherwise it says
    which forms were accepted unchanged (a probe that gets nothing accepted proves nothing).
    """

    client: Client
    attacker: Tenant
    victim: Tenant
    outcome: Outcome = field(default_factory=Outcome)
    _seen: set[tuple[str, frozenset[str]]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.before = snapshot(self.victim.company)
        self.own_rows = owned_rows(self.attacker.company)
        self.their_rows = owned_rows(self.victim.company)
        self.natural = self._natural_keys()

    # --- the walk over A's own pages ------------------------------------------------------

    def run(self, actors: list[User]) -> Outcome:
        for actor in actors:
            for route in all_routes():
                for values in fillings(route, self.attacker, self.attacker) or []:
                    self._page(actor, route, route.fill(values))
        return self.outcome

    def _page(self, actor: User, route: Route, url: str) -> None:
        self.client.force_login(actor)
        where = f"GET {url} as {actor.email}"
        response = send(self.client, "get", url, {}, where)
        assert_nothing_of_b(response, where)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            return
        for form in post_forms(response.content.decode()):
            action = urljoin(url, form.action) if form.action else url
            if _url_name(action).endswith("logout"):
                continue  # nothing to aim at; it would only end the session
            key = (_pattern(action), form.names)
            if key not in self._seen:
                self._seen.add(key)
                self._replay(actor, form, action, route if action == url else None, depth=0)

    # --- one form ----------------------------------------------------------------------------

    def _replay(
        self, actor: User, form: Form, action: str, route: Route | None, depth: int, via: str = ""
    ) -> None:
        defaults = {
            "user": self.attacker.member.email,  # guardian's "give rights to" field
            "old_password": PASSWORD,
            "current_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
        defaults["replace"] = str(self.own_rows[WorkflowDefinition][0])  # upload into A's workflow
        upload = self._upload_for(form, action)
        for variant, body in _variants(form, {**form.data(defaults=defaults), **(upload or {})}):
            label = f"{via}{_url_name(action)}{f' [{variant}]' if variant else ''}"
            with rolled_back():
                self.client.force_login(actor)
                where = f"POST {action} ({label}) as {actor.email}"
                response = send(self.client, "post", action, _materialised(body), where)
                assert_nothing_of_b(response, where)
                was_accepted = accepted(response)
                self._follow(response, where, echoes=[])
                follow_ups = post_forms(response.content.decode()) if response.status_code == 200 else []
            if was_accepted:
                self.outcome.accepted.append(label)
            else:
                self.outcome.refused[label] = _why(response)
            for name, values, echoes in self.substitutions(form, body, action):
                self._hostile(actor, action, {**body, name: values}, f"{label} with B's {name}", echoes)
            for name, values in body.items():
                for value in values:
                    if isinstance(value, Upload):
                        swapped, echoes = value.swapped(self.natural)
                        label_file = f"{label} with B's names in the file"
                        self._hostile(actor, action, {**body, name: [swapped]}, label_file, echoes)
            for url in self._their_urls(route):
                self._hostile(actor, url, body, f"{label} sent to B's URL", [])
            if depth == 0:
                for follow_up in follow_ups:
                    target = urljoin(action, follow_up.action) if follow_up.action else action
                    key = (_pattern(target), follow_up.names)
                    if not _url_name(target).endswith("logout") and key not in self._seen:
                        self._seen.add(key)
                        self._replay(actor, follow_up, target, None, depth=1, via=f"{label} → ")

    def _hostile(
        self, actor: User, url: str, body: dict[str, list[Any]], label: str, echoes: list[str]
    ) -> None:
        where = f"POST {url} ({label}) as {actor.email}"
        with rolled_back():
            self.client.force_login(actor)
            response = send(self.client, "post", url, _materialised(body), where)
            assert_nothing_of_b(response, where, echoes)
            self._follow(response, where, echoes)
            assert_unchanged(self.before, snapshot(self.victim.company), where)
        self.outcome.hostile.append(label)

    def _follow(self, response: Any, where: str, echoes: list[str]) -> None:
        """Open the pages a POST redirects to: they show its messages."""
        for _ in range(3):
            if response.status_code not in (301, 302, 303) or not response.get("Location"):
                return
            location = response["Location"]
            where = f"{where}, then GET {location}"
            response = send(self.client, "get", location, {}, where)
            assert_nothing_of_b(response, where, echoes)

    def _upload_for(self, form: Form, action: str) -> dict[str, list[Any]] | None:
        """A file for the form's file input: what the same site lets A download (an export, a bundle)."""
        file_input = next((c for c in form.controls if c.kind == "file"), None)
        if file_input is None:
            return None
        name = _url_name(action)
        if name.endswith("_import"):
            export_url = reverse(name.removesuffix("_import") + "_export")
            export = post_forms(self.client.get(export_url).content.decode())[-1]
            for choice in [c for c in getattr(export.control("format"), "choices", []) if c]:
                response = self.client.post(export_url, {**export.data(), "format": [choice]})
                if ".csv" in response.get("Content-Disposition", ""):
                    upload = Upload("export.csv", response.content.decode())
                    return {file_input.name: [upload], "format": [choice]}
        if name in ("design:assistant", "design:assistant_conversation"):
            # A document for the assistant: valid YAML too, so B's names can be swapped into it.
            return {
                file_input.name: [
                    Upload("process.md", "title: Laundry pickup\nsteps: [Driver picks it up]\n")
                ]
            }
        if name.endswith("workflowdefinition_upload"):
            workflow = self.own_rows[WorkflowDefinition][0]
            download = reverse("design:definitions_workflowdefinition_download", args=[workflow])
            bundle = self.client.get(download, {"format": "yaml"}).content.decode()
            return {file_input.name: [Upload("workflow.yaml", bundle)]}
        return None

    def _their_urls(self, route: Route | None) -> list[str]:
        if route is None or not route.params:
            return []
        return [route.fill(values) for values in fillings(route, self.victim, self.attacker) or []]

    # --- B's ids for A's ------------------------------------------------------------------

    def substitutions(
        self, form: Form, body: dict[str, list[Any]], action: str
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        """(field, B's values, what B's values echo) for each field of `form` that names a thing of A's."""
        page_model = model_for(Route(_pattern(action), None))
        done: set[str] = set()
        for control in form.controls:
            base = control.name.rsplit("-", 1)[-1]
            if base in NOT_IDS or "__prefix__" in control.name or control.name in done:
                continue
            done.add(control.name)
            values = body.get(control.name) or []
            if control.kind in ID_KINDS:
                # What is sent, or (nothing chosen) what could be: an empty select's options.
                numbers = [v for v in values if v.isdigit()] or [v for v in control.choices if v.isdigit()]
                if numbers:
                    for model in self._models_of(control.name, int(numbers[0]), page_model):
                        theirs = self.their_rows.get(model) or []
                        if theirs:
                            many = base == "_selected_action" or len(numbers) > 1
                            yield control.name, [str(pk) for pk in theirs[: 3 if many else 1]], []
            for value in values:
                swapped = self.natural.get(value.lower()) if isinstance(value, str) else None
                if swapped is not None:
                    yield control.name, [swapped], [swapped]

    def _models_of(
        self, name: str, pk: int, page_model: type[models.Model] | None
    ) -> list[type[models.Model]]:
        """Which model an id belongs to: the field name's hint, else every model where A has that id."""
        parts = name.split("-")
        base = parts[-1]
        if base in ROW_IDS:
            inline = _inline_model(page_model, parts[0]) if len(parts) == 3 else None
            row_model = inline or page_model
            if row_model is not None:
                return [_concrete(row_model)]
        having = [model for model in company_models() if pk in (self.own_rows.get(model) or [])]
        hinted = HINTS.get(base) or HINTS.get(base.removesuffix("_id")) or []
        return [model for model in hinted if model in having] or hinted or having

    def _natural_keys(self) -> dict[str, str]:
        """A's names for things (task keys, titles, role names, e-mails), lower-cased, to B's."""
        keys: dict[str, str] = {}
        for model, attribute in [
            (WorkflowDefinition, "title"),
            (TicketDefinition, "title"),
            (CompanyRole, "name"),
        ]:
            own_row = model.unscoped.filter(company=self.attacker.company).order_by("pk").first()
            their_row = model.unscoped.filter(company=self.victim.company).order_by("pk").first()
            keys[str(getattr(own_row, attribute)).lower()] = str(getattr(their_row, attribute))
        own_tasks = TaskDefinition.unscoped.filter(company=self.attacker.company).order_by("pk")
        their_tasks = list(TaskDefinition.unscoped.filter(company=self.victim.company).order_by("pk"))
        for task in own_tasks:
            keys[task.key.lower()] = their_tasks[0].key
        for own, theirs in zip(self.attacker.users, self.victim.users, strict=True):
            keys[own.email.lower()] = theirs.email
        return keys


def _materialised(body: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The body with a fresh file object for each upload (a sent file is read to its end)."""
    return {
        name: [SimpleUploadedFile(v.name, v.text.encode()) if isinstance(v, Upload) else v for v in values]
        for name, values in body.items()
    }


def _variants(form: Form, body: dict[str, list[Any]]) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """The bodies to send: a list page's form once per action, with every row selected."""
    action = form.control("action")
    rows = form.control("_selected_action")
    if action is None or rows is None or action.kind != "select":
        yield "", body
        return
    for choice in action.choices:
        if choice:
            yield choice, {**body, "action": [choice], "_selected_action": list(rows.choices)}


def _messages(response: Any) -> list[Any]:
    storage = getattr(response.wsgi_request, "_messages", None)
    return list(getattr(storage, "_loaded_data", None) or []) + list(getattr(storage, "_queued_messages", []))


def accepted(response: Any) -> bool:
    """A success message; or, without an error message, a redirect (not to log in) or a file."""
    shown = _messages(response)
    if any(m.level == messages.SUCCESS for m in shown):
        return True
    if any(m.level >= messages.ERROR for m in shown):
        return False
    if response.status_code in (301, 302, 303):
        return "login" not in response.get("Location", "")
    return "attachment" in response.get("Content-Disposition", "")


def _why(response: Any) -> str:
    errors = [str(m) for m in _messages(response) if m.level >= messages.ERROR]
    if not errors and response.status_code == 200:
        page = response.content.decode(errors="replace")
        errors = re.findall(r'class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', page, re.S)[:2]
    return f"{response.status_code} {'; '.join(errors)[:200]}".strip()


def _url_name(url: str) -> str:
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return urlsplit(url).path
    return match.view_name or match.route


def _pattern(url: str) -> str:
    try:
        return resolve(urlsplit(url).path).route
    except Resolver404:
        return urlsplit(url).path


def _inline_model(parent: type[models.Model] | None, prefix: str) -> type[models.Model] | None:
    if parent is None:
        return None
    for relation in parent._meta.related_objects:
        if relation.get_accessor_name() == prefix:
            return relation.related_model
    return None


def _concrete(model: type[models.Model]) -> type[models.Model]:
    return model._meta.concrete_model or model
