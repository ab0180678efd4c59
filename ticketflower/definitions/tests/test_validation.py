"""Validation names the exact bad part of a bundle. Plain data: no database."""

import copy
from typing import Any

import pytest

from ticketflower.definitions.problems import problem_label
from ticketflower.definitions.validation import Problem, bundle_warnings, validate_bundle


def good_bundle() -> dict[str, Any]:
    return {
        "workflow": {
            "title": "Laptop request",
            "fields": [
                {"name": "model", "type": "choice", "label": "Model", "options": ["13 inch", "15 inch"]},
                {"name": "price", "type": "number", "label": "Price"},
                {"name": "approved", "type": "boolean", "label": "Approved"},
                {"name": "order_id", "type": "text", "label": "Order"},
            ],
            "tasks": [
                {
                    "key": "approve",
                    "title": "Approve",
                    "type": "FORM",
                    "input_schema": {"type": "object", "properties": {"price": {"type": "number"}}},
                    "output_schema": {"type": "object", "properties": {"approved": {"type": "boolean"}}},
                },
                {
                    "key": "order",
                    "title": "Order it",
                    "type": "SYNC_ACTION",
                    "action_url": "https://shop.example.com/orders",
                    "timeout_seconds": 10,
                    "input_transform": {"sku": "${data.model}", "max": {"$eval": "data.price"}},
                    "output_transform": {"order_id": {"$eval": "response.id"}},
                },
                {"key": "reject", "title": "Tell them no", "type": "FORM"},
            ],
            "transitions": [
                {"from": None, "to": "approve"},
                {"from": "approve", "to": "order", "condition": "data.approved", "priority": 0},
                {"from": "approve", "to": "reject", "condition": "!data.approved", "priority": 1},
            ],
        },
        "ticket_types": [
            {"title": "I need a laptop", "fields": [{"field": "model"}, {"field": "price", "preset": 1200}]},
        ],
    }


def problems_after(change: Any) -> list[Problem]:
    bundle = good_bundle()
    change(bundle)
    return validate_bundle(bundle)


def test_a_good_bundle_has_no_problems() -> None:
    assert validate_bundle(good_bundle()) == []


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda b: b["workflow"]["fields"].append({"name": "Bad Name", "type": "text"}),
            "workflow.fields[4].name",
            "Bad field name",
        ),
        (
            lambda b: b["workflow"]["fields"].append({"name": "x", "type": "colour"}),
            "workflow.fields[4].type",
            "Unknown field type",
        ),
        (
            lambda b: b["workflow"]["fields"].append({"name": "model", "type": "text"}),
            "workflow.fields[4].name",
            "Two fields",
        ),
        (
            lambda b: b["workflow"]["fields"][0].pop("options"),
            "workflow.fields[0].options",
            "needs a list of options",
        ),
        (
            lambda b: b["workflow"]["tasks"][1].pop("action_url"),
            "workflow.tasks[1].action_url",
            "needs the URL",
        ),
        (
            lambda b: b["workflow"]["tasks"][1].pop("timeout_seconds"),
            "workflow.tasks[1].timeout_seconds",
            "needs a timeout",
        ),
        (
            lambda b: b["workflow"]["tasks"][1].update(timeout_seconds=0),
            "workflow.tasks[1].timeout_seconds",
            "from 1 to",
        ),
        (  # a SYNC request may take an hour at most; only an ASYNC callback may take days
            lambda b: b["workflow"]["tasks"][1].update(timeout_seconds=86_400),
            "workflow.tasks[1].timeout_seconds",
            "from 1 to 3,600",
        ),
        (
            lambda b: b["workflow"]["tasks"][0].update(type="ROBOT"),
            "workflow.tasks[0].type",
            "Unknown task type",
        ),
        (lambda b: b["workflow"]["tasks"][2].update(key="approve"), "workflow.tasks[2].key", "Two tasks"),
        (
            lambda b: b["workflow"]["tasks"][0]["input_schema"]["properties"].update(
                colour={"type": "string"}
            ),
            "workflow.tasks[0].input_schema.properties.colour",
            'Unknown field "colour"',
        ),
        (
            lambda b: b["workflow"]["tasks"][0]["output_schema"]["properties"].update(
                approved={"type": "string"}
            ),
            "workflow.tasks[0].output_schema.properties.approved.type",
            "Wrong type",
        ),
        (
            lambda b: b["workflow"]["tasks"][0].update(input_schema={"type": 12}),
            "workflow.tasks[0].input_schema",
            "Not a valid JSON Schema",
        ),
        (
            lambda b: b["workflow"]["transitions"][1].update(condition="data.approved &&"),
            "workflow.transitions[1].condition",
            "does not parse",
        ),
        (
            lambda b: b["workflow"]["transitions"][1].update(to="ship"),
            "workflow.transitions[1].to",
            "Unknown task 'ship'",
        ),
        (lambda b: b["workflow"]["transitions"].pop(0), "workflow.transitions", "No start"),
        (
            lambda b: b["workflow"]["transitions"].append({"from": None, "to": "reject"}),
            "workflow.transitions[3].from",
            "A second start",
        ),
        (lambda b: b["workflow"]["transitions"].pop(2), "workflow.tasks[2]", "cannot be reached"),
        (
            lambda b: b["workflow"]["tasks"][1].update(input_transform={"$eval": "data."}),
            "workflow.tasks[1].input_transform",
            "does not work",
        ),
        (
            lambda b: b["workflow"]["tasks"][1].update(input_transform={"$eval": "secrets.key"}),
            "workflow.tasks[1].input_transform",
            "does not work",
        ),
        (
            lambda b: b["ticket_types"][0]["fields"].append({"field": "colour"}),
            "ticket_types[0].fields[2].field",
            "Unknown field",
        ),
        (
            lambda b: b["ticket_types"][0]["fields"][1].update(preset="a lot"),
            "ticket_types[0].fields[1].preset",
            "Wrong value",
        ),
        (lambda b: b["ticket_types"][0].update(title=""), "ticket_types[0].title", "needs a title"),
        (lambda b: b.pop("workflow"), "workflow", "needs a workflow"),
        (lambda b: b["workflow"].update(tasks=[], transitions=[]), "workflow.tasks", "at least one task"),
    ],
)
def test_each_problem_names_its_place(change: Any, path: str, words: str) -> None:
    problems = problems_after(change)
    assert any(p.path == path and words in p.message for p in problems), problems


def test_output_transform_may_read_any_response_key() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][1]["output_transform"] = {"order_id": {"$eval": "response.order.number"}}
    assert validate_bundle(bundle) == []


def test_a_transform_may_use_the_power_operator() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][1]["input_transform"] = {"kilo": {"$eval": "2 ** 10"}, "note": "**bold**"}
    assert validate_bundle(bundle) == []


def test_validation_does_not_change_the_bundle() -> None:
    bundle = good_bundle()
    before = copy.deepcopy(bundle)
    validate_bundle(bundle)
    assert bundle == before


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda b: b["workflow"]["tasks"].append("not an object"), "workflow.tasks[3]"),
        (lambda b: b["workflow"]["transitions"].append(7), "workflow.transitions[3]"),
        (lambda b: b.update(ticket_types={"title": "x"}), "ticket_types"),
        (lambda b: b["ticket_types"].append([1]), "ticket_types[1]"),
        (
            lambda b: b["workflow"]["transitions"][1].update({"from": ["approve"]}),
            "workflow.transitions[1].from",
        ),
        (lambda b: b["workflow"]["fields"][0].update(type=["choice"]), "workflow.fields[0].type"),
        (lambda b: b["workflow"]["fields"][0].update(options={"a": 1}), "workflow.fields[0].options"),
        (lambda b: b["workflow"].update(title="x" * 256), "workflow.title"),
        (lambda b: b["workflow"]["tasks"][0].update(key="k" * 65), "workflow.tasks[0].key"),
        (lambda b: b["workflow"]["tasks"][0].update(key="not a slug!"), "workflow.tasks[0].key"),
        (
            lambda b: b["workflow"]["tasks"][1].update(action_url="https://x.test/" + "a" * 2000),
            "workflow.tasks[1].action_url",
        ),
        (
            lambda b: b["workflow"]["transitions"][1].update(priority=2**31),
            "workflow.transitions[1].priority",
        ),
        (
            lambda b: b["workflow"]["tasks"][0].update(timeout_seconds="abc"),
            "workflow.tasks[0].timeout_seconds",
        ),
        (lambda b: b["workflow"]["tasks"][0].update(timeout_seconds=-5), "workflow.tasks[0].timeout_seconds"),
        (lambda b: b["workflow"].update(description=float("nan")), "bundle"),
        (lambda b: b["workflow"].update(description=__import__("datetime").date(2026, 1, 1)), "bundle"),
        (lambda b: b["ticket_types"].append(dict(b["ticket_types"][0])), "ticket_types[1].title"),
        (
            lambda b: b["workflow"]["tasks"][1].update(input_transform={"$eval": "2 ** 2 ** 30"}),
            "workflow.tasks[1].input_transform",
        ),
    ],
)
def test_malformed_bundles_are_problems_not_crashes(change: Any, path: str) -> None:
    problems = problems_after(change)
    assert path in {p.path for p in problems}, problems


def test_a_schema_may_allow_null() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][0]["input_schema"]["properties"]["price"] = {"type": ["number", "null"]}
    assert validate_bundle(bundle) == []


# --- who works on a task ------------------------------------------------------------------------


def test_a_form_task_may_go_to_a_pool_of_one_role() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][0].update(assignment="pool", worker_role="Finance")
    # Whether the company has the role is the import's and the publication's to check.
    assert validate_bundle(bundle) == []


def test_an_action_task_may_spell_out_the_defaults_as_exports_do() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][1].update(assignment="auto", worker_role=None)
    assert validate_bundle(bundle) == []


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda b: b["workflow"]["tasks"][0].update(assignment="first come"),
            "workflow.tasks[0].assignment",
            "Unknown assignment 'first come': use auto or pool.",
        ),
        (
            lambda b: b["workflow"]["tasks"][0].update(assignment="POOL"),
            "workflow.tasks[0].assignment",
            "Unknown assignment 'POOL'",
        ),
        (
            lambda b: b["workflow"]["tasks"][1].update(assignment="pool"),
            "workflow.tasks[1].assignment",
            "Only form tasks are assigned to people",
        ),
        (
            lambda b: b["workflow"]["tasks"][1].update(worker_role="Finance"),
            "workflow.tasks[1].worker_role",
            "Only form tasks are assigned to people",
        ),
    ],
)
def test_each_assignment_problem_names_its_place(change: Any, path: str, words: str) -> None:
    problems = problems_after(change)
    assert any(p.path == path and words in p.message for p in problems), problems


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda b: b["workflow"]["tasks"][0].update(assignment=["pool"]), "workflow.tasks[0].assignment"),
        (lambda b: b["workflow"]["tasks"][0].update(worker_role=7), "workflow.tasks[0].worker_role"),
        (lambda b: b["workflow"]["tasks"][0].update(worker_role="r" * 101), "workflow.tasks[0].worker_role"),
    ],
)
def test_malformed_assignments_are_problems_not_crashes(change: Any, path: str) -> None:
    assert path in {p.path for p in problems_after(change)}


def test_a_worker_role_problem_reads_as_the_design_site_shows_the_task() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][1]["worker_role"] = "Finance"
    [problem] = validate_bundle(bundle)
    assert problem_label(problem, bundle) == (
        "Task 2 (“Order it”), worker role: Only form tasks are assigned to people: an action or code task "
        "runs by itself and takes no worker role."
    )


def code_task(**changes: Any) -> dict[str, Any]:
    bundle = good_bundle()
    task = bundle["workflow"]["tasks"][1]
    for name in ("action_url", "timeout_seconds", "input_transform", "output_transform"):
        task.pop(name, None)
    task.update({"type": "CODE", "code": "def run(input, context):\n    return {}\n", **changes})
    return bundle


def test_a_code_task_is_valid_with_its_code_alone() -> None:
    assert validate_bundle(code_task()) == []
    assert validate_bundle(code_task(timeout_seconds=60)) == []


def test_a_code_tasks_problems_are_at_its_code_with_line_and_column() -> None:
    problems = validate_bundle(code_task(code="import os\ndef run(input, context):\n    return {\n"))
    assert [(p.path, p.message) for p in problems] == [
        ("workflow.tasks[1].code", "Line 3, column 12: The code does not parse: '{' was never closed.")
    ]
    problems = validate_bundle(code_task(code="import socket\ndef run(input):\n    return {}\n"))
    assert [p.message.split(":")[0] for p in problems] == ["Line 1, column 1", "Line 2, column 1"]
    assert [p.path for p in validate_bundle(code_task(code=""))] == ["workflow.tasks[1].code"]


def test_a_code_task_calls_no_endpoint_and_runs_at_most_a_minute() -> None:
    problems = validate_bundle(
        code_task(action_url="https://example.com", output_transform={"a": 1}, timeout_seconds=61)
    )
    assert [p.path for p in problems] == [
        "workflow.tasks[1].action_url",
        "workflow.tasks[1].output_transform",
        "workflow.tasks[1].timeout_seconds",
    ]
    assert "A code task calls no endpoint" in problems[0].message
    assert problems[2].message == "A code task may run from 1 to 60 seconds; leave it empty for the default."
    assert [p.path for p in validate_bundle(code_task(worker_role="Finance"))] == [
        "workflow.tasks[1].worker_role"
    ]


def test_code_left_on_another_kind_of_task_is_a_warning() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][0]["code"] = "def run(input, context):\n    return {}\n"
    assert validate_bundle(bundle) == []
    (warning,) = [w for w in bundle_warnings(bundle) if w.path.endswith(".code")]
    assert warning.message.startswith("This is a FORM task, so its code never runs.")


def test_an_async_action_may_wait_days_for_its_callback() -> None:
    bundle = good_bundle()
    bundle["workflow"]["tasks"][1].update(type="ASYNC_ACTION", timeout_seconds=3 * 86_400)
    assert validate_bundle(bundle) == []
    bundle["workflow"]["tasks"][1].update(timeout_seconds=31 * 86_400)
    assert [p.path for p in validate_bundle(bundle)] == ["workflow.tasks[1].timeout_seconds"]
