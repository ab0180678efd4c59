"""Code the assistant's LLM adapter wrote (a recorded answer): gated, published, and run right."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Tenant
from tests.live_parts import job_worker, wait_until
from ticketflower.assistant import services as assistant
from ticketflower.assistant.models import Message
from ticketflower.assistant.tests.llm_server import ChatServer, chat_server, recorded, streamed
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.runtime import services
from ticketflower.runtime.models import TaskInstance, TaskStatus, TicketInstance, WorkflowInstance
from ticketflower.tenancy.context import company_context

pytestmark = pytest.mark.django_db(transaction=True)
ANSWER = recorded("flower_order_with_code.json")


@pytest.fixture
def llm(settings: Any) -> Iterator[ChatServer]:
    with chat_server() as server:
        settings.ASSISTANT_GENERATOR = "llm"
        settings.ASSISTANT_API_BASE = server.base
        settings.ASSISTANT_MODEL = "test-model"
        settings.ASSISTANT_TIMEOUT = 5.0
        yield server


def test_code_written_by_the_llm_is_published_and_gives_the_right_results(
    tenant_a: Tenant, llm: ChatServer
) -> None:
    llm.answer(streamed(ANSWER, usage=(2000, 600)))
    conversation = assistant.conversation_start(actor=tenant_a.designer, title="Flowers")
    assistant.message_post(
        actor=tenant_a.designer,
        conversation=conversation,
        text="Customers order flowers in plain lines; count the items and the total, then a florist packs it.",
    )
    with company_context(tenant_a.company):
        assistant.proposal_make(conversation.messages.get(status=Message.Status.PENDING).pk)
        conversation.refresh_from_db()
    assert conversation.proposal["bundle"] == json.loads(ANSWER)["bundle"]  # as the model wrote it
    system = llm.received[0].system  # the model was told how code tasks are written, not how they run
    assert "# Code tasks" in system and "def run(input, context)" in system and "seccomp" not in system

    saved = assistant.proposal_save(actor=tenant_a.admin, conversation=conversation, publish=True)
    assert saved.ok and saved.release is not None, saved.problems
    with company_context(tenant_a.company):
        ticket_type = ReleaseTicketType.objects.get(release=saved.release)
    lines = {
        "2 x Rose bouquet @ 24.50\n1 x Tulips @ 9,95\n\n3x Card @ 2": (6, 64.95, ""),
        "a dozen lilies please\n1 x Vase @ 15": (1, 15.0, "a dozen lilies please"),
    }
    tickets: dict[str, TicketInstance] = {
        text: services.ticket_submit(
            ticket_type=ticket_type, submitted_by=tenant_a.member, data={"order_lines": text}
        )
        for text in lines
    }
    with job_worker():
        wait_until(lambda: all(packing(t) is not None for t in tickets.values()), what="the code steps")
    for text, ticket in tickets.items():
        count, total, unreadable = lines[text]
        with company_context(tenant_a.company):
            data = WorkflowInstance.objects.get(pk=ticket.workflow_instance_id).data
        assert (data["item_count"], data["order_total"], data["unreadable_lines"]) == (
            count,
            total,
            unreadable,
        )


def packing(ticket: TicketInstance) -> TaskInstance | None:
    with company_context(ticket.company):
        code_step = TaskInstance.objects.get(workflow_instance=ticket.workflow_instance_id, task_key="add_up")
        assert code_step.status != TaskStatus.ERROR, code_step.error
        return TaskInstance.objects.filter(
            workflow_instance=ticket.workflow_instance_id, task_key="pack"
        ).first()
