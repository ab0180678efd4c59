"""The sample bundles' code steps (the demo company runs them) give the right answers in the sandbox."""

from typing import Any

import pytest

from tests.factories import load_bundle
from ticketflower.codetasks.sandbox import code_run
from ticketflower.runtime import engine


def code_step(sample: str) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = load_bundle(sample)["workflow"]["tasks"]
    (task,) = [t for t in tasks if t["type"] == "CODE"]
    return task


def answer(task: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    outcome = code_run(
        source=task["code"], input=engine.task_input(task, data), context={"ticket": {"id": 1}}
    )
    assert outcome.kind == "ok", outcome.reason()
    assert outcome.output is not None
    assert engine.output_errors(task, outcome.output) == {}  # it fits the task's output schema
    return outcome.output


@pytest.mark.parametrize(
    ("quantity", "unit_price", "expected"),
    [
        (3, 19.99, {"net_total": 59.97, "vat": 11.99, "total": 71.96}),
        (1, 0.1, {"net_total": 0.1, "vat": 0.02, "total": 0.12}),  # decimals: no 0.30000000000000004
        (7, 2.5, {"net_total": 17.5, "vat": 3.5, "total": 21.0}),
        (0, 99.0, {"net_total": 0.0, "vat": 0.0, "total": 0.0}),
    ],
)
def test_the_purchase_order_works_out_the_total_with_vat(
    quantity: int, unit_price: float, expected: Any
) -> None:
    task = code_step("purchase-order.yaml")
    assert answer(task, {"supplier": "Acme", "quantity": quantity, "unit_price": unit_price}) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Keizersgracht 123\n1015 CJ Amsterdam", ("Keizersgracht 123", "1015 CJ", "Amsterdam")),
        ("10 Downing Street, London SW1A 2AA", ("10 Downing Street", "SW1A 2AA", "London")),
        ("Hauptstraße 5, 10115 Berlin", ("Hauptstraße 5", "10115", "Berlin")),
        ("Marktplatz 1\n35390 Gießen", ("Marktplatz 1", "35390", "Gießen")),
        ("rue de Rivoli 2, 75001 paris", ("rue de Rivoli 2", "75001", "paris")),
        ("Somewhere without a postcode", ("Somewhere without a postcode", "", "")),
    ],
)
def test_the_delivery_booking_splits_the_address(address: str, expected: tuple[str, str, str]) -> None:
    task = code_step("delivery-booking.yaml")
    output = answer(task, {"address": address, "parcel_size": "small"})
    assert (output["street"], output["postcode"], output["city"]) == expected
