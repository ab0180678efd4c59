"""The evaluator pool: same answers as the libraries in-process, under limits, across threads and deaths."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cel
import jsone
import pytest

from ticketflower.definitions import evaluator
from ticketflower.definitions.expressions import (
    ExpressionError,
    ExpressionLimitError,
    condition_check,
    condition_holds,
    schema_check,
    schema_errors,
    time_budget,
    transform_render,
)

from .test_limits import nested_maps

DATA = {
    "data": {
        "amount": 1500,
        "price": 12.5,
        "approved": True,
        "item": "Laptop",
        "tags": ["a", "b", "c"],
        "note": "ünïcödé",
    },
    "ticket": {"id": 7, "submitted_by": "someone@example.com"},
}


def wait_until_gone(pid: int) -> None:
    """Until the process has exited (a zombie or reaped): a kill is delivered asynchronously."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(200):
        if not stat.exists() or stat.read_text().split(") ", 1)[1].startswith(("Z", "X")):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} is still running")


@pytest.mark.parametrize(
    "expression",
    [
        "data.amount > 1000",
        "data.price >= 12.5 && data.approved",
        'data.item in ["Laptop", "Phone"]',
        "size(data.tags) > 2",
        "has(data.order_reference)",
        'data.note.startsWith("ü")',
        "ticket.id == 7",
    ],
)
def test_a_condition_gives_what_cel_gives_in_process(expression: str) -> None:
    assert condition_holds(expression, DATA) is cel.evaluate(expression, DATA)


@pytest.mark.parametrize(
    "template",
    [
        {"sku": "${data.item}", "qty": {"$eval": "data.amount"}, "price": {"$eval": "data.price"}},
        {"rush": {"$if": "data.amount > 1000", "then": True, "else": False}},
        {"$map": {"$eval": "data.tags"}, "each(t)": "${t}-${ticket.id}"},
        {"reference": "ticketflower-${ticket.id}", "note": "${data.note}", "power": {"$eval": "2 ** 10"}},
    ],
)
def test_a_transform_gives_what_jsone_gives_in_process(template: Any) -> None:
    assert transform_render(template, DATA) == jsone.render(template, DATA)


@pytest.mark.parametrize(
    ("call", "message", "syntax"),
    [
        (lambda: condition_check("data.approved &&"), "Syntax error: mismatched input", True),
        (lambda: condition_holds("data.approved &&", DATA), "Syntax error: mismatched input", True),
        (lambda: condition_holds("data.missing > 1", DATA), "missing", False),
        (lambda: condition_holds("data.amount", DATA), "The condition gave 1500, not true or false.", False),
        (lambda: transform_render({"$eval": "data."}, DATA), "SyntaxError: Unexpected end of input", True),
        (lambda: transform_render({"$eval": "secrets.key"}, DATA), "unknown context value secrets", False),
    ],
)
def test_errors_keep_their_kind(call: Any, message: str, syntax: bool) -> None:
    with pytest.raises(ExpressionError, match=message) as caught:
        call()
    assert caught.value.syntax is syntax and not isinstance(caught.value, ExpressionLimitError)


def test_a_killed_child_is_replaced() -> None:
    assert condition_holds("data.approved", DATA)
    before = evaluator.child_pids()
    for pid in before:
        os.kill(pid, signal.SIGKILL)
        wait_until_gone(pid)
    assert condition_holds("data.approved", DATA)
    after = evaluator.child_pids()
    assert after and not set(after) & set(before)


def test_a_child_that_overruns_is_killed_and_not_reused() -> None:
    evaluator.shutdown()
    with pytest.raises(ExpressionLimitError):
        condition_holds(nested_maps(7), {})
    assert evaluator.child_pids() == []
    assert condition_holds("true", {})
    assert len(evaluator.child_pids()) == 1


def test_concurrent_calls_from_threads_each_get_their_own_answer() -> None:
    def both(n: int) -> tuple[bool, Any]:
        context = {"data": {"n": n}}
        return condition_holds("data.n % 2 == 0", context), transform_render({"$eval": "data.n * 3"}, context)

    with ThreadPoolExecutor(max_workers=8) as threads:
        answers = list(threads.map(both, range(200)))
    assert answers == [(n % 2 == 0, n * 3) for n in range(200)]


def test_a_bomb_in_one_thread_does_not_hold_up_another() -> None:
    outcome: list[BaseException] = []

    def bomb() -> None:
        try:
            condition_holds(nested_maps(7), {})
        except ExpressionLimitError as exc:
            outcome.append(exc)

    bomber = threading.Thread(target=bomb)
    bomber.start()
    time.sleep(0.2)  # the bomb holds one child now
    start = time.monotonic()
    assert all(condition_holds(f"{n} < 100", {}) for n in range(20))
    assert time.monotonic() - start < 0.5
    assert bomber.is_alive()
    bomber.join()
    assert len(outcome) == 1


def test_a_shared_budget_stops_what_comes_after_it_is_spent() -> None:
    start = time.monotonic()
    with time_budget(0.3):
        with pytest.raises(ExpressionLimitError, match=r"^Not checked: .*\(0\.3 s\)") as first:
            condition_holds(nested_maps(7), {})
        with pytest.raises(ExpressionLimitError) as second:
            condition_holds("true", {})
    assert first.value.reason == second.value.reason == "budget"
    assert time.monotonic() - start < 1.0
    assert condition_holds("true", {})  # outside the budget, all is well


def test_a_result_over_the_cap_is_an_error() -> None:
    template = {"$map": {"$eval": "range(0, 200000)"}, "each(x)": "xxxxxxxx"}
    with pytest.raises(ExpressionError, match=r"The result is too big \(over 1,000,000 bytes\)"):
        transform_render(template, {})


def test_schema_errors_name_the_place_of_each_error() -> None:
    schema = {
        "type": "object",
        "properties": {"amount": {"type": "number"}, "code": {"type": "string", "pattern": "^[A-Z]+$"}},
        "required": ["amount"],
    }
    assert schema_errors(schema, {"amount": 5, "code": "ABC"}) == []
    assert schema_errors(schema, {"amount": "5", "code": "abc"}) == [
        "amount: '5' is not of type 'number'",
        "code: 'abc' does not match '^[A-Z]+$'",
    ]
    assert schema_errors(schema, {}) == ["'amount' is a required property"]


def test_a_catastrophic_pattern_stops_at_the_time_limit() -> None:
    schema = {"type": "string", "pattern": "^(a+)+$"}
    start = time.monotonic()
    with pytest.raises(ExpressionLimitError, match=r"The schema takes too long to check against") as caught:
        schema_errors(schema, "a" * 40 + "!")
    assert time.monotonic() - start < 2.0 and caught.value.reason == "time"
    assert schema_errors(schema, "aaa") == []


def test_schema_check_reports_an_invalid_schema() -> None:
    assert schema_check({"type": "object"}) is None
    assert schema_check({"type": 12}) == "12 is not valid under any of the given schemas"


def test_a_child_has_its_limits_and_no_environment() -> None:
    condition_holds("true", {})
    pid = evaluator.child_pids()[0]
    limits = Path(f"/proc/{pid}/limits").read_text()
    address_space = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    assert address_space.split()[3:5] == [str(512 * 1024 * 1024)] * 2
    assert Path(f"/proc/{pid}/environ").read_bytes() == b"RUST_BACKTRACE=0\x00"
