"""The workflow rules over a bundle: routing, inputs, outputs, transforms. No database, no HTTP."""

from typing import Any

import pytest

from ticketflower.runtime import engine


def bundle(transitions: list[dict[str, Any]], tasks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    tasks = tasks or [
        {"key": k, "title": k.title(), "type": "FORM", "output_schema": {"type": "object"}}
        for k in ("a", "b", "c")
    ]
    return {"workflow": {"tasks": tasks, "transitions": transitions, "fields": []}}


def test_a_run_starts_at_the_start_transition() -> None:
    b = bundle([{"from": None, "to": "b"}, {"from": "b", "to": "a"}])
    assert engine.first_task(b, {})["key"] == "b"


def test_transitions_are_tried_by_priority_then_position() -> None:
    b = bundle(
        [
            {"from": None, "to": "a"},
            {"from": "a", "to": "c", "condition": "true", "priority": 2},
            {"from": "a", "to": "b", "condition": "true", "priority": 1},
            {"from": "a", "to": "c", "condition": "true", "priority": 1},
        ]
    )
    step = engine.next_step(b, engine.task_spec(b, "a"), {})
    assert (step.outcome, step.task and step.task["key"]) == ("task", "b")


def test_the_first_condition_that_holds_is_taken() -> None:
    b = bundle(
        [
            {"from": None, "to": "a"},
            {"from": "a", "to": "b", "condition": "data.amount > 100", "priority": 0},
            {"from": "a", "to": "c", "condition": "", "priority": 1},
        ]
    )
    a = engine.task_spec(b, "a")
    assert engine.next_step(b, a, {"amount": 500}).task["key"] == "b"  # type: ignore[index]
    assert engine.next_step(b, a, {"amount": 5}).task["key"] == "c"  # type: ignore[index]


def test_a_task_without_outgoing_transitions_ends_the_run() -> None:
    b = bundle([{"from": None, "to": "a"}])
    assert engine.next_step(b, engine.task_spec(b, "a"), {}).outcome == "completed"


def test_outgoing_transitions_none_holding_is_an_error_naming_the_task() -> None:
    b = bundle([{"from": None, "to": "a"}, {"from": "a", "to": "b", "condition": "data.ok"}])
    step = engine.next_step(b, engine.task_spec(b, "a"), {"ok": False})
    assert step.outcome == "error"
    assert step.reason == "No transition matched after A."


def test_a_failing_condition_stops_the_run_with_the_reason() -> None:
    b = bundle([{"from": None, "to": "a"}, {"from": "a", "to": "b", "condition": "data.missing > 1"}])
    step = engine.next_step(b, engine.task_spec(b, "a"), {})
    assert step.outcome == "error"
    assert "data.missing > 1" in step.reason


def test_loops_are_allowed() -> None:
    b = bundle(
        [
            {"from": None, "to": "a"},
            {"from": "a", "to": "b"},
            {"from": "b", "to": "a", "condition": "data.again", "priority": 0},
            {"from": "b", "to": "c", "priority": 1},
        ]
    )
    assert engine.next_step(b, engine.task_spec(b, "b"), {"again": True}).task["key"] == "a"  # type: ignore[index]
    assert engine.next_step(b, engine.task_spec(b, "b"), {"again": False}).task["key"] == "c"  # type: ignore[index]


def test_a_task_reads_only_the_fields_its_input_schema_names() -> None:
    task = {"key": "a", "input_schema": {"type": "object", "properties": {"item": {}, "qty": {}}}}
    assert engine.task_input(task, {"item": "Laptop", "secret": 1}) == {"item": "Laptop"}


APPROVAL = {
    "key": "approve",
    "title": "Approve",
    "type": "FORM",
    "output_schema": {
        "type": "object",
        "properties": {"approved": {"type": "boolean"}, "due": {"type": "string", "format": "date"}},
        "required": ["approved"],
    },
}


def test_a_valid_output_is_merged_into_the_data() -> None:
    assert engine.merged(APPROVAL, {"item": "x", "approved": False}, {"approved": True}) == {
        "item": "x",
        "approved": True,
    }


def test_an_invalid_output_is_refused_by_field_and_nothing_is_merged() -> None:
    with pytest.raises(engine.OutputInvalid) as caught:
        engine.merged(APPROVAL, {}, {"approved": "yes", "due": "2026-02-31", "extra": 1})
    assert set(caught.value.errors) == {"approved", "due", "extra"}


def test_a_missing_required_output_is_named() -> None:
    assert engine.output_errors(APPROVAL, {}) == {"approved": ["This field is required."]}


SYNC = {
    "key": "order",
    "title": "Order",
    "type": "SYNC_ACTION",
    "input_transform": {"sku": "${data.item}", "ref": "tf-${ticket.id}"},
    "output_transform": {"order_id": {"$eval": "response.id"}},
    "output_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}},
}


def test_an_action_body_is_its_input_transform_over_the_run() -> None:
    assert engine.action_body(SYNC, {"item": "Laptop"}, {"id": 7}) == {"sku": "Laptop", "ref": "tf-7"}


def test_an_action_without_input_transform_sends_its_input() -> None:
    task = {**SYNC, "input_transform": None, "input_schema": {"properties": {"item": {}}}}
    assert engine.action_body(task, {"item": "Laptop", "other": 1}, {"id": 7}) == {"item": "Laptop"}


def test_an_answer_goes_through_the_output_transform_and_schema() -> None:
    assert engine.action_output(SYNC, {"id": "S-1", "noise": True}, {}, {}) == {"order_id": "S-1"}
    with pytest.raises(engine.OutputInvalid):
        engine.action_output(SYNC, {"id": 12}, {}, {})


def test_an_input_transform_that_fails_is_an_engine_error() -> None:
    task = {**SYNC, "input_transform": {"$eval": "data.nope.deeper"}}
    with pytest.raises(engine.EngineError, match="input transform of Order failed"):
        engine.action_body(task, {}, {})
