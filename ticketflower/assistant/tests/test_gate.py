"""The gate: validation, a render of every layout, and a dry run of the transitions."""

import copy
from typing import Any

from ticketflower.assistant.dryrun import dry_run_problems
from ticketflower.assistant.gate import bundle_new_roles, gate

BUNDLE: dict[str, Any] = {
    "format": "ticketflower-bundle/1",
    "workflow": {
        "title": "Purchase",
        "fields": [
            {"name": "amount", "type": "number", "label": "Amount", "required": True},
            {
                "name": "priority",
                "type": "choice",
                "label": "Priority",
                "required": True,
                "options": ["low", "high"],
            },
            {"name": "approved", "type": "boolean", "label": "Approved"},
        ],
        "tasks": [
            {
                "key": "approve",
                "title": "Approve",
                "type": "FORM",
                "worker_role": "Boss",
                "output_schema": {"type": "object", "properties": {"approved": {"type": "boolean"}}},
            },
            {"key": "big", "title": "Big order", "type": "FORM"},
            {"key": "rush", "title": "Rush order", "type": "FORM"},
            {"key": "small", "title": "Small order", "type": "FORM"},
        ],
        "transitions": [
            {"from": None, "to": "approve"},
            {"from": "approve", "to": "big", "condition": "data.amount > 500.0", "priority": 0},
            {"from": "approve", "to": "rush", "condition": 'data.priority == "high"', "priority": 1},
            {"from": "approve", "to": "small", "condition": "", "priority": 2},
        ],
    },
    "ticket_types": [
        {
            "title": "Purchase",
            "fields": [{"field": "amount"}, {"field": "priority"}],
            "allowed_roles": ["Staff"],
        }
    ],
}


def with_transitions(*transitions: dict[str, Any]) -> dict[str, Any]:
    bundle = copy.deepcopy(BUNDLE)
    bundle["workflow"]["transitions"] = [{"from": None, "to": "approve"}, *transitions]
    return bundle


def test_a_bundle_whose_every_branch_takes_passes() -> None:
    report = gate(BUNDLE, roles=["staff"])

    assert report.ok, report.lines()
    assert report.new_roles == ["Boss"]


def test_a_transition_no_data_takes_is_named() -> None:
    bundle = with_transitions(
        {"from": "approve", "to": "big", "condition": "data.amount > 500.0 && data.amount < 100.0"},
        {"from": "approve", "to": "rush", "condition": "", "priority": 1},
        {"from": "approve", "to": "small", "condition": "", "priority": 2},
    )

    assert [str(p) for p in dry_run_problems(bundle)] == [
        "workflow.transitions[1]: No sample data takes this transition (to 'big' when data.amount > 500.0 && "
        "data.amount < 100.0): its condition never holds, or one tried before it always does.",
        "workflow.transitions[3]: No sample data takes this transition (to 'small'): its condition never holds, "
        "or one tried before it always does.",
        "workflow.tasks[1]: No sample run reaches this task.",
        "workflow.tasks[3]: No sample run reaches this task.",
    ]


def test_data_after_which_no_transition_holds_is_a_problem() -> None:
    bundle = with_transitions(
        {"from": "approve", "to": "big", "condition": "data.amount > 500.0"},
        {"from": "approve", "to": "rush", "condition": 'data.priority == "high"', "priority": 1},
        {"from": "approve", "to": "small", "condition": 'data.priority == "low"', "priority": 2},
    )
    bundle["workflow"]["fields"][1]["options"] = ["low", "high", "medium"]

    problems = [str(p) for p in dry_run_problems(bundle)]

    assert problems == [
        'workflow.tasks[0]: The run would stop in ERROR: No transition matched after Approve. (when priority is "medium")'
    ]


def test_an_unguarded_optional_field_is_caught() -> None:
    bundle = with_transitions(
        {"from": "approve", "to": "big", "condition": "data.approved"},
        {"from": "approve", "to": "small", "condition": "", "priority": 1},
    )
    bundle["workflow"]["transitions"].append({"from": "big", "to": "rush"})

    problems = [str(p) for p in gate(bundle, roles=["boss", "staff"]).problems]

    assert len(problems) == 1
    assert problems[0].startswith(
        "workflow.tasks[0]: The run would stop in ERROR: The condition 'data.approved'"
    )
    assert problems[0].endswith("(when approved has no value)")


def test_a_layout_that_throws_when_rendered_is_named_by_its_place() -> None:
    bundle = copy.deepcopy(BUNDLE)
    bundle["workflow"]["tasks"][1]["edit_layout"] = (
        "export default function Layout() { throw new Error('boom at render'); }"
    )

    assert gate(bundle, roles=["boss", "staff"]).lines() == [
        "workflow.tasks[1].edit_layout: It fails to render in edit and display mode with sample values: boom at render"
    ]


def test_a_layout_that_does_not_compile_stops_before_rendering() -> None:
    bundle = copy.deepcopy(BUNDLE)
    bundle["ticket_types"][0]["edit_layout"] = "export default function () { return <div>; }"

    lines = gate(bundle, roles=["boss", "staff"]).lines()

    assert lines and all(line.startswith("ticket_types[0].edit_layout: ") for line in lines)


def test_an_invalid_shape_is_reported_without_rendering_or_a_dry_run() -> None:
    report = gate({"workflow": "nope"}, roles=[])

    assert not report.ok and report.new_roles == []


def test_new_roles_are_compared_whatever_their_case() -> None:
    assert bundle_new_roles(BUNDLE, ["BOSS"]) == ["Staff"]
    assert bundle_new_roles(BUNDLE, ["boss", "staff"]) == []


def test_a_field_the_task_must_record_is_never_tried_empty() -> None:
    bundle = with_transitions(
        {"from": "approve", "to": "big", "condition": "data.approved"},
        {"from": "approve", "to": "small", "condition": "", "priority": 1},
    )
    bundle["workflow"]["tasks"][0]["output_schema"]["required"] = ["approved"]
    bundle["workflow"]["transitions"].append({"from": "big", "to": "rush"})

    assert gate(bundle, roles=["boss", "staff"]).problems == []


def test_cel_escapes_json_cannot_read_are_left_untried() -> None:
    bundle = with_transitions(
        {"from": "approve", "to": "big", "condition": 'data.priority == "\\x41"'},
        {"from": "approve", "to": "small", "condition": "", "priority": 1},
    )
    bundle["workflow"]["transitions"].append({"from": "big", "to": "rush"})

    problems = [str(p) for p in dry_run_problems(bundle)]

    assert problems and problems[0].startswith(
        "workflow.transitions[1]: No sample data takes this transition"
    )


def test_a_task_that_only_ever_loops_is_named() -> None:
    bundle = with_transitions(
        {"from": "approve", "to": "big"},
        {"from": "big", "to": "rush"},
        {"from": "rush", "to": "big"},
        {"from": "small", "to": "small"},
    )

    assert [str(p) for p in dry_run_problems(bundle)] == [
        "workflow.tasks[0]: No sample run gets from this task to the end: it loops forever.",
        "workflow.tasks[1]: No sample run gets from this task to the end: it loops forever.",
        "workflow.tasks[2]: No sample run gets from this task to the end: it loops forever.",
        "workflow.tasks[3]: No sample run reaches this task.",
    ]
