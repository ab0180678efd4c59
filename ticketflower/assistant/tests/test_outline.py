"""The outline generator: what docs/assistant.md says it understands, read from plain text."""

from typing import Any

import pytest

from tests.factories import load_bundle
from ticketflower.assistant.gate import gate
from ticketflower.assistant.generators import generator
from ticketflower.assistant.generators.base import ChatMessage, Document, ProposalRequest
from ticketflower.assistant.generators.outline import (
    OutlineGenerator,
    looks_like_outline,
    outline_bundle,
    outline_text,
    parse_outline,
    revise,
)
from ticketflower.assistant.selectors import comparable
from ticketflower.definitions.validation import validate_bundle

LAUNDRY = """Laundry pickup
Customers ask us to collect their laundry. Only staff can request this.

The form asks for:
- Customer name
- Address
- How many bags
- Pickup date
- Service: one of wash and fold, dry cleaning, ironing
- Photo of stains (optional)
- Notes

Steps:
1. Driver picks up the laundry and records the weight in kg.
2. Washer washes it and records damaged items (yes/no).
   If damaged items is yes, go to step 3, otherwise go to step 4.
3. Manager calls the customer and records the outcome.
4. Driver delivers the laundry. Then the ticket is closed.
"""


def fields_of(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in bundle["workflow"]["fields"]}


def tasks_of(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in bundle["workflow"]["tasks"]}


def edges(bundle: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(t["from"], t["to"], t["condition"]) for t in bundle["workflow"]["transitions"]]


def propose(*messages: str, documents: list[Document] | None = None) -> Any:
    request = ProposalRequest(
        messages=[ChatMessage("user", text) for text in messages], documents=documents or []
    )
    return OutlineGenerator().propose(request)


def test_the_laundry_outline_becomes_a_valid_bundle_with_roles_branches_and_layouts() -> None:
    bundle = outline_bundle(parse_outline(LAUNDRY))

    assert validate_bundle(bundle) == []
    ticket_type = bundle["ticket_types"][0]
    assert ticket_type["title"] == "Laundry pickup"
    assert ticket_type["description"] == "Customers ask us to collect their laundry."
    assert ticket_type["allowed_roles"] == ["Staff"]
    fields = fields_of(bundle)
    assert {n: (f["type"], f["required"]) for n, f in fields.items()} == {
        "customer_name": ("text", True),
        "address": ("text", True),
        "how_many_bags": ("integer", True),
        "pickup_date": ("date", True),
        "service": ("choice", True),
        "photo_stains": ("file", False),
        "notes": ("long_text", False),
        "weight_kg": ("number", True),
        "damaged_items": ("boolean", False),
        "outcome": ("long_text", False),
    }
    assert fields["service"]["options"] == ["Wash and fold", "Dry cleaning", "Ironing"]
    assert [e["field"] for e in ticket_type["fields"]] == list(fields)[:7]
    tasks = tasks_of(bundle)
    assert [(t["title"], t["worker_role"]) for t in tasks.values()] == [
        ("Driver picks up the laundry", "Driver"),
        ("Washer washes it", "Washer"),
        ("Manager calls the customer", "Manager"),
        ("Driver delivers the laundry", "Driver"),
    ]
    assert list(tasks["driver_picks_up_the_laundry"]["output_schema"]["properties"]) == ["weight_kg"]
    assert edges(bundle) == [
        (None, "driver_picks_up_the_laundry", ""),
        ("driver_picks_up_the_laundry", "washer_washes_it", ""),
        ("washer_washes_it", "manager_calls_the_customer", "has(data.damaged_items) && data.damaged_items"),
        ("washer_washes_it", "driver_delivers_the_laundry", ""),
        ("manager_calls_the_customer", "driver_delivers_the_laundry", ""),
    ]
    # Every form and display is written TSX, grouped, never the bare default.
    edit = ticket_type["edit_layout"]
    assert 'import { Columns, Field, Form, Section } from "@ticketflower/kit";' in edit
    assert '<Section title={"Contact"}>' in edit and '<Section title={"Attachments"}>' in edit
    assert all(t["edit_layout"] and t["display_layout"] for t in tasks.values())


def test_the_laundry_proposal_passes_the_gate_and_lists_the_roles_to_create() -> None:
    report = gate(outline_bundle(parse_outline(LAUNDRY)), roles=["driver"])

    assert report.problems == []
    assert report.new_roles == ["Washer", "Manager", "Staff"]


@pytest.mark.parametrize(
    ("line", "kind", "required"),
    [
        ("Photo of the damage", "file", False),
        ("Receipt (required)", "file", True),
        ("Customer e-mail", "email", True),
        ("Our website", "url", True),
        ("How many guests", "integer", True),
        ("Number of nights", "integer", True),
        ("Total price", "number", True),
        ("Due date", "date", True),
        ("Appointment (date and time)", "datetime", True),
        ("Urgent (yes/no)", "boolean", True),
        ("Is it broken?", "boolean", True),
        ("Comments", "long_text", False),
        ("Description of the problem", "long_text", True),
        ("Order number", "text", True),
        ("Cost centre", "text", True),
        ("Phone number", "text", True),
        ("Colour (optional)", "text", False),
        ("Licence plate if any", "text", False),
    ],
)
def test_field_types_and_required_are_read_from_words_and_hints(line: str, kind: str, required: bool) -> None:
    outline = parse_outline(f"Request\n\nFields:\n- {line}\n\nSteps:\n1. Manager checks it.")

    field = outline.fields[0]
    assert (field.type, field.required) == (kind, required)


@pytest.mark.parametrize(
    ("line", "kind", "options"),
    [
        ("Priority: one of low, medium, high", "choice", ["Low", "Medium", "High"]),
        ("Item (one of: laptop, phone or monitor)", "choice", ["Laptop", "Phone", "Monitor"]),
        ("Size (S/M/L)", "choice", ["S", "M", "L"]),
        ("Extras: any of ironing, folding", "multi_choice", ["Ironing", "Folding"]),
    ],
)
def test_choices_are_read_with_their_options(line: str, kind: str, options: list[str]) -> None:
    field = parse_outline(f"Request\n\nFields:\n- {line}\n").fields[0]

    assert (field.type, field.options) == (kind, options)


def test_help_text_follows_a_dash_and_labels_keep_their_case() -> None:
    field = parse_outline("Request\n\nFields:\n- Reason - why you need it\n").fields[0]

    assert (field.label, field.help_text, field.type) == ("Reason", "Why you need it", "long_text")


def test_it_is_forgiving_about_headings_bullets_numbers_and_case() -> None:
    text = """# EQUIPMENT REQUEST
Staff ask for equipment.

## What we need
* Item
* amount in EUR

## Process
1) MANAGER approves.
2) IT prepares the equipment and records the serial number.
"""
    bundle = outline_bundle(parse_outline(text))

    assert bundle["workflow"]["title"] == "EQUIPMENT REQUEST"
    assert list(fields_of(bundle)) == ["item", "amount_eur", "approved", "serial_number"]
    assert [t["worker_role"] for t in bundle["workflow"]["tasks"]] == ["MANAGER", "IT"]


def test_lists_without_headings_are_the_form_and_the_steps() -> None:
    outline = parse_outline(
        "Repair\n- Address\n- Photo\n\n1. Technician repairs it.\n2. Office sends the bill."
    )

    assert [f.name for f in outline.fields] == ["address", "photo"]
    assert [s.title for s in outline.steps] == ["Technician repairs it", "Office sends the bill"]


def test_who_may_submit_is_read_as_company_roles() -> None:
    assert parse_outline("X\nOnly managers and finance may submit this.\n").submit_roles == [
        "Manager",
        "Finance",
    ]
    assert parse_outline("X\nAnyone can request this.\n").submit_roles == []


def test_calls_and_waits_become_sync_and_async_actions() -> None:
    text = """Order
Fields:
- Item
Steps:
1. Call https://shop.example.com/orders to place the order and record the order number.
2. Wait for the supplier to confirm (https://supplier.example.com/hook) within 3 days.
3. Send to our system.
"""
    outline = parse_outline(text)
    bundle = outline_bundle(outline)
    order, wait, system = bundle["workflow"]["tasks"]

    assert (order["type"], order["title"], order["action_url"], order["timeout_seconds"]) == (
        "SYNC_ACTION",
        "Place the order",
        "https://shop.example.com/orders",
        30,
    )
    assert list(order["output_schema"]["properties"]) == ["order_number"]
    assert order["output_transform"]["$merge"][0]["then"] == {
        "order_number": {"$eval": "response.order_number"}
    }
    assert (wait["type"], wait["title"], wait["timeout_seconds"]) == (
        "ASYNC_ACTION",
        "Wait for the supplier to confirm",
        3 * 86400,
    )
    assert system["type"] == "SYNC_ACTION"
    assert system["action_url"] == "https://example.com/hook"
    assert any("address of the system to call" in q for q in outline.questions)
    assert validate_bundle(bundle) == []


def test_conditions_compare_numbers_choices_booleans_approvals_and_combine() -> None:
    text = """Purchase
Fields:
- Amount
- Priority: one of low, high
- Refund wanted (yes/no)
Steps:
1. Manager approves. If it is not approved, the ticket is closed.
   If the amount is more than 1000, go to step 2.
   If priority is high, go to step 3.
   If refund wanted is yes and amount is under 50, go to step 3, otherwise go to step 4.
2. Finance checks it.
3. Boss checks it.
4. Clerk files it.
"""
    bundle = outline_bundle(parse_outline(text))
    conditions = [c for f, _, c in edges(bundle) if f == "manager_approves"]

    assert conditions == [
        "!data.approved",
        "data.amount > 1000.0",
        'data.priority == "High"',
        "(data.refund_wanted) && (data.amount < 50.0)",
        "",
    ]
    assert "closed" in tasks_of(bundle)  # the end some outcomes lead to
    assert gate(bundle, roles=[]).problems == []


def test_repeat_until_loops_back() -> None:
    text = """Fix
Fields:
- Problem
Steps:
1. Developer fixes it.
2. Tester tests the fix and records fixed (yes/no). Repeat from step 1 until fixed.
3. Support tells the customer.
"""
    bundle = outline_bundle(parse_outline(text))

    assert [e for e in edges(bundle) if e[0] == "tester_tests_the_fix"] == [
        ("tester_tests_the_fix", "support_tells_the_customer", "has(data.fixed) && data.fixed"),
        ("tester_tests_the_fix", "developer_fixes_it", ""),
    ]
    assert gate(bundle, roles=[]).problems == []


def test_what_it_cannot_place_becomes_a_question_not_a_guess() -> None:
    text = """Order
Fields:
- Item
Steps:
1. The order is checked.
2. Clerk files it. If the weather is nice, go to step 1.
"""
    outline = parse_outline(text)

    assert any(q.startswith("Who does step 1") for q in outline.questions)
    assert any("which field “the weather is nice” means" in q for q in outline.questions)
    assert outline.steps[0].role == "" and outline.steps[1].branches == []
    assert parse_outline("Just a title").questions == [
        "What should the form ask for? List the fields under a line “The form asks for:”.",
        "What happens after someone submits it? List the steps under a line “Steps:”, one per line.",
    ]


def test_the_outline_written_back_reads_the_same() -> None:
    outline = parse_outline(LAUNDRY)
    revise(outline, "add a manager approval when the weight is over 20")
    text = outline_text(outline)

    assert outline_bundle(parse_outline(text)) == outline_bundle(outline)
    assert "2. Manager approves." in text
    assert (
        "1. Driver picks up the laundry and records weight in kg. If the weight is over 20, go to step 2."
        in text
    )


@pytest.mark.parametrize(
    ("instruction", "check"),
    [
        ("make the photo required", lambda b: fields_of(b)["photo_stains"]["required"] is True),
        ("Make the address optional.", lambda b: fields_of(b)["address"]["required"] is False),
        ("also ask for an email address", lambda b: fields_of(b)["email_address"]["type"] == "email"),
        ("add a field: due date", lambda b: fields_of(b)["due_date"]["type"] == "date"),
        ("remove the notes field", lambda b: "notes" not in fields_of(b)),
        ("don't ask for the address", lambda b: "address" not in fields_of(b)),
        (
            "rename the address to pickup address",
            lambda b: fields_of(b)["address"]["label"] == "Pickup address",
        ),
        ("call it Laundry service", lambda b: b["workflow"]["title"] == "Laundry service"),
        (
            "the service should be one of wash, dry clean",
            lambda b: fields_of(b)["service"]["options"] == ["Wash", "Dry clean"],
        ),
        ("only drivers can request this", lambda b: b["ticket_types"][0]["allowed_roles"] == ["Driver"]),
        (
            "add a step: Driver calls the customer",
            lambda b: b["workflow"]["tasks"][-1]["title"] == "Driver calls the customer",
        ),
        ("remove step 3", lambda b: "manager_calls_the_customer" not in tasks_of(b)),
    ],
)
def test_changes_in_plain_words(instruction: str, check: Any) -> None:
    proposal = propose(LAUNDRY, instruction)

    assert proposal.questions == []
    assert check(proposal.bundle)
    assert validate_bundle(proposal.bundle) == []


def test_an_approval_is_added_where_its_condition_is_known() -> None:
    proposal = propose(LAUNDRY, "add a manager approval when the weight is over 20")
    tasks = list(tasks_of(proposal.bundle))

    assert tasks[1] == "manager_approves"
    assert ("driver_picks_up_the_laundry", "manager_approves", "data.weight_kg > 20.0") in edges(
        proposal.bundle
    )
    assert ("driver_picks_up_the_laundry", "washer_washes_it", "") in edges(proposal.bundle)
    assert proposal.reply.startswith("Added step 2: “Manager approves”, when the weight is over 20.")
    assert gate(proposal.bundle, roles=[]).problems == []


def test_an_approval_on_a_form_field_goes_after_the_first_step_and_says_so() -> None:
    proposal = propose(LAUNDRY, "add a manager approval when how many bags is more than 10")

    assert list(tasks_of(proposal.bundle))[1] == "manager_approves"
    assert "The first step always runs, so it comes after step 1." in proposal.reply


def test_an_instruction_it_does_not_understand_is_a_question() -> None:
    proposal = propose(LAUNDRY, "make it prettier please")

    assert proposal.questions == [
        "I did not understand “make it prettier please”. See the assistant's help for what I can change."
    ]


def test_the_latest_outline_in_the_conversation_wins_and_changes_after_it_apply() -> None:
    second = LAUNDRY.replace("Laundry pickup", "Dry cleaning")
    proposal = propose(LAUNDRY, "make the photo required", second, "remove the notes field")

    assert proposal.bundle["workflow"]["title"] == "Dry cleaning"
    assert fields_of(proposal.bundle)["photo_stains"]["required"] is False  # the change before it is gone
    assert "notes" not in fields_of(proposal.bundle)


def test_a_document_is_the_outline_when_no_message_is_one() -> None:
    proposal = propose("Here is our process", documents=[Document(name="process.md", text=LAUNDRY)])

    assert proposal.bundle["workflow"]["title"] == "Laundry pickup"


def test_it_is_deterministic_and_the_default_generator() -> None:
    assert propose(LAUNDRY).bundle == propose(LAUNDRY).bundle
    assert isinstance(generator(), OutlineGenerator)
    assert looks_like_outline(LAUNDRY) and not looks_like_outline("make the photo optional")


def answer_of(
    *turns: tuple[str, str], draft: dict[str, Any] | None = None, documents: list[Document] | None = None
) -> Any:
    """The generator's answer to a thread of (role, text) turns; earlier answers are its own."""
    messages = [ChatMessage(role, text) for role, text in turns]  # type: ignore[arg-type]
    return OutlineGenerator().propose(
        ProposalRequest(messages=messages, draft=draft, documents=documents or [])
    )


def test_each_answer_applies_only_the_messages_after_the_last_outline() -> None:
    first = propose(LAUNDRY, "make the photo required")
    second = answer_of(
        ("user", LAUNDRY), ("assistant", first.reply), ("user", "also ask for an email address")
    )

    assert second.reply.startswith("The form now asks for “Email address”.\n\nHere is the revised workflow")
    fields = fields_of(second.bundle)
    assert fields["photo_stains"]["required"] is True  # kept from the first answer's outline
    assert [n for n in fields if n.startswith("email")] == ["email_address"]  # asked once, not twice


def test_a_saved_workflow_is_revised_from_its_draft_keeping_what_was_written() -> None:
    saved = outline_bundle(parse_outline(LAUNDRY))
    saved["ticket_types"][0]["edit_layout"] = "export default () => <p>Our own form</p>;"
    saved["workflow"]["tasks"][2]["edit_layout"] = "export default () => <p>Call them</p>;"

    proposal = answer_of(("user", "make the address optional"), draft=saved)

    assert proposal.reply.startswith(
        "“Address” is now optional.\n\nHere is the revised workflow for “Laundry pickup”"
    )
    assert fields_of(proposal.bundle)["address"]["required"] is False
    assert edges(proposal.bundle) == edges(saved)  # the conditions came back as they were
    assert proposal.bundle["ticket_types"][0]["edit_layout"] == "export default () => <p>Our own form</p>;"
    assert proposal.bundle["workflow"]["tasks"][2]["edit_layout"] == "export default () => <p>Call them</p>;"
    assert gate(proposal.bundle, roles=[]).problems == []


def test_conditions_written_in_cel_are_kept() -> None:
    outline = parse_outline(
        "X\nFields:\n- Amount\nSteps:\n1. Clerk checks it. If data.amount > 5.0, go to step 2.\n2. Boss signs."
    )

    assert outline.steps[0].branches[0].condition == "data.amount > 5.0"


def test_a_document_sent_later_is_the_new_outline() -> None:
    other = LAUNDRY.replace("Laundry pickup", "Dry cleaning")
    first = propose(LAUNDRY)
    messages = [
        ChatMessage("user", LAUNDRY),
        ChatMessage("assistant", first.reply),
        ChatMessage("user", "", ("v2.md",)),
    ]

    proposal = OutlineGenerator().propose(
        ProposalRequest(messages=messages, documents=[Document("v2.md", other)])
    )

    assert proposal.bundle["workflow"]["title"] == "Dry cleaning"


def test_an_added_approval_can_refuse() -> None:
    proposal = propose(LAUNDRY, "add a manager approval when the weight is over 20")

    assert ("manager_approves", "closed", "!data.approved") in edges(proposal.bundle)


def test_an_approval_that_changes_nothing_is_asked_about() -> None:
    outline = parse_outline("X\nFields:\n- Item\nSteps:\n1. Manager approves.\n2. Clerk orders it.")

    assert outline.questions == [
        "Step 1 (“Manager approves”): what happens when it is not approved? For now the work goes on either "
        "way; add “If it is not approved, the ticket is closed.”"
    ]


def test_who_may_submit_does_not_swallow_the_description() -> None:
    outline = parse_outline(
        "Repairs\nCustomers bring in bikes. Anyone can request this. Only staff may submit it.\n"
    )

    assert (outline.description, outline.submit_roles) == ("Customers bring in bikes.", ["Staff"])


def test_an_ambiguous_change_says_which_field_it_changed() -> None:
    text = LAUNDRY.replace("- Notes", "- Photo of the bags (optional)\n- Notes")
    proposal = propose(text, "make the photo required")

    assert proposal.reply.startswith("“Photo of stains” is now required.")
    assert proposal.questions == [
        "“photo” could be “Photo of stains” and “Photo of the bags”: I changed “Photo of stains”; name "
        "the other to change it."
    ]
    assert propose(LAUNDRY, "make the notes optional").reply.startswith("“Notes” was already optional.")


def test_a_request_without_an_outline_gets_an_example_back() -> None:
    proposal = propose("I need a form for vacation requests")

    assert proposal.reply.startswith("I could not find a form or steps in that.")
    assert "The form asks for:" in proposal.reply
    assert gate(proposal.bundle, roles=[]).problems  # nothing to save


@pytest.mark.parametrize(
    ("name", "field", "said"),
    [
        ("purchase-order.yaml", "supplier", "make the supplier optional"),
        ("it-equipment-request.yaml", "item", "make the item optional"),
        ("customer-complaint.yaml", "customer_email", "make the customer e-mail optional"),
    ],
)
def test_revising_a_saved_workflow_changes_only_what_was_asked(name: str, field: str, said: str) -> None:
    saved = load_bundle(name)

    proposal = answer_of(("user", said), draft=saved)

    expected = comparable(saved)
    for spec in expected["workflow"]["fields"]:
        if spec["name"] == field:
            spec["required"] = False
    assert comparable(proposal.bundle) == expected
    assert proposal.questions == []
    assert gate(proposal.bundle, roles=["Finance", "Purchasing", "Managers", "Manager"]).problems == []


def test_the_next_change_starts_from_the_last_proposal_of_a_saved_workflow() -> None:
    saved = load_bundle("purchase-order.yaml")
    first = answer_of(("user", "make the supplier optional"), draft=saved)

    second = answer_of(
        ("user", "make the supplier optional"),
        ("assistant", first.reply),
        ("user", "rename the item to article"),
        draft=first.bundle,
    )

    assert second.reply.startswith("Renamed to “Article”.")
    fields = fields_of(second.bundle)
    assert (fields["supplier"]["required"], fields["item"]["label"]) == (False, "Article")


def test_an_approval_after_a_step_with_its_own_conditions_leaves_the_rest_where_it_went() -> None:
    text = LAUNDRY.replace(
        "1. Driver picks up the laundry and records the weight in kg.",
        "1. Driver picks up the laundry and records the weight in kg and whether it is complete (yes/no).\n"
        "   If it is complete is no, the ticket is closed.",
    )

    proposal = propose(text, "add a manager approval when how many bags is more than 10")
    first = [
        (to, condition)
        for frm, to, condition in edges(proposal.bundle)
        if frm == "driver_picks_up_the_laundry"
    ]

    assert first == [
        ("closed", "has(data.complete) && !data.complete"),
        ("manager_approves", "data.how_many_bags > 10"),
        ("washer_washes_it", ""),
    ]
