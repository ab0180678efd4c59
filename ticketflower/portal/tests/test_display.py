"""How answers, tasks and history read, as plain functions (no database)."""

import datetime

import pytest

from ticketflower.portal.display import Answer, answer, history_entry, task_who
from ticketflower.runtime.models import EventKind, TaskInstance, TicketEvent

WHEN = datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC)


def event(kind: EventKind, message: str = "", **details: object) -> TicketEvent:
    return TicketEvent(
        kind=kind, message=message, details=details, actor_label="TicketFlower", created_at=WHEN
    )


def shown(spec_type: str, value: object, **spec: object) -> Answer:
    return answer({"name": "x", "label": "X", "type": spec_type, **spec}, value, file_names={7: "quote.pdf"})


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        ("boolean", True, "Yes"),
        ("boolean", False, "No"),
        ("date", "2026-01-31", "Jan. 31, 2026"),
        ("datetime", "2026-01-31T09:30:00+00:00", "Jan. 31, 2026, 9:30 a.m."),
        ("date", "not a date", "not a date"),
        ("integer", 1200, "1200"),
        ("multi_choice", ["a", "b"], "a, b"),
        ("file", 7, "quote.pdf"),
        ("file", 8, "File #8"),
        ("text", None, ""),
    ],
)
def test_a_value_reads_in_words(kind: str, value: object, text: str) -> None:
    assert shown(kind, value).text == text


def test_only_web_addresses_become_links() -> None:
    assert shown("url", "https://example.com").kind == "link"
    assert shown("url", "javascript:alert(1)").kind == "text"


def test_an_automatic_task_is_done_by_ticketflower_and_a_waiting_one_says_so() -> None:
    assert task_who(TaskInstance(task_type="SYNC_ACTION", status="PENDING")) == "TicketFlower (automatic)"
    assert task_who(TaskInstance(task_type="FORM", status="PENDING", assignment="pool")) == (
        "Waiting for a worker to take it"
    )
    assert (
        task_who(TaskInstance(task_type="FORM", status="PENDING", assignment="auto"))
        == "Waiting for a worker"
    )


@pytest.mark.parametrize("kind", [EventKind.ATTEMPT, EventKind.SAVED])
def test_a_submitter_does_not_see_automation_internals_or_drafts(kind: EventKind) -> None:
    assert history_entry(event(kind, "HTTP 503 from https://internal"), internal=False) is None
    assert history_entry(event(kind, "HTTP 503 from https://internal"), internal=True) is not None


def test_a_submitter_sees_a_callback_only_as_the_completion_it_brought() -> None:
    refused = event(EventKind.CALLBACK, "Refused: 'x' is required")
    completed = event(EventKind.CALLBACK, "Callback received; task completed.", output={"secret": 1})
    assert history_entry(refused, internal=False) is None
    entry = history_entry(completed, internal=False)
    assert entry is not None and entry.what == "Task completed" and "secret" not in entry.message


def test_a_submitter_reads_an_error_without_its_technical_reason() -> None:
    entry = history_entry(event(EventKind.ERROR, "KeyError: 'order_number'"), internal=False)
    assert entry is not None and entry.message == "Something went wrong; the ticket team has been told."
    admin = history_entry(event(EventKind.ERROR, "KeyError: 'order_number'"), internal=True)
    assert admin is not None and admin.message == "KeyError: 'order_number'"


def test_a_hold_or_cancel_note_is_for_the_submitter_too() -> None:
    entry = history_entry(event(EventKind.CANCELLED, "Ordered elsewhere"), internal=False)
    assert entry is not None and (entry.what, entry.message, entry.by) == (
        "Cancelled",
        "Ordered elsewhere",
        "TicketFlower",
    )
