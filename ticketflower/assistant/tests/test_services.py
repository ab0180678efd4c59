"""Conversations, messages with documents, proposals and saving them; and the command line."""

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from reversion.models import Version

from conftest import Tenant
from ticketflower.assistant import services
from ticketflower.assistant.generators.base import ChatMessage, GeneratorFailed, Proposal, ProposalRequest
from ticketflower.assistant.generators.outline import OutlineGenerator
from ticketflower.assistant.models import AssistantRevision, Conversation, Document, Message
from ticketflower.assistant.tests.llm_server import ChatServer, chat_server, recorded, streamed
from ticketflower.assistant.tests.test_outline import LAUNDRY
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.files.models import FileUpload
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company, CompanyRole

pytestmark = pytest.mark.django_db


def answered(tenant: Tenant, text: str = LAUNDRY) -> Conversation:
    """A conversation whose first message the assistant has answered (the job's work, in-process)."""
    conversation = services.conversation_start(actor=tenant.designer, title="Laundry")
    services.message_post(actor=tenant.designer, conversation=conversation, text=text)
    with company_context(tenant.company):
        pending = conversation.messages.get(status=Message.Status.PENDING)
        services.proposal_make(pending.pk)
        conversation.refresh_from_db()
    return conversation


def test_a_message_and_the_job_answering_it_are_stored_together(tenant_a: Tenant) -> None:
    conversation = services.conversation_start(actor=tenant_a.designer, title="Laundry")

    services.message_post(actor=tenant_a.designer, conversation=conversation, text=LAUNDRY)

    with company_context(tenant_a.company):
        thread = list(conversation.messages.values_list("role", "status"))
        pending = conversation.messages.get(status=Message.Status.PENDING)
    assert thread == [("user", "done"), ("assistant", "pending")]
    job = ProcrastinateJob.objects.get(task_name="assistant.reply")
    assert job.args == {"company_id": tenant_a.company.pk, "message_id": pending.pk}


def test_a_second_message_waits_for_the_answer(tenant_a: Tenant) -> None:
    conversation = services.conversation_start(actor=tenant_a.designer)
    services.message_post(actor=tenant_a.designer, conversation=conversation, text=LAUNDRY)

    with pytest.raises(services.MessageRefused, match="still answering"):
        services.message_post(actor=tenant_a.designer, conversation=conversation, text="make it blue")


def test_a_refused_document_writes_nothing(tenant_a: Tenant) -> None:
    conversation = services.conversation_start(actor=tenant_a.designer)
    good = SimpleUploadedFile("process.md", LAUNDRY.encode())
    bad = SimpleUploadedFile("process.pdf", b"not a pdf at all")

    with pytest.raises(services.MessageRefused, match=r"process\.pdf"):
        services.message_post(
            actor=tenant_a.designer, conversation=conversation, text="", uploads=[good, bad]
        )

    with company_context(tenant_a.company):
        assert not Message.objects.exists() and not FileUpload.objects.exists()
    assert not ProcrastinateJob.objects.exists()


def test_documents_are_stored_through_the_files_app_and_read_by_the_generator(tenant_a: Tenant) -> None:
    conversation = services.conversation_start(actor=tenant_a.designer)
    upload = SimpleUploadedFile("process.md", LAUNDRY.encode())

    services.message_post(
        actor=tenant_a.designer, conversation=conversation, text="Our process", uploads=[upload]
    )

    with company_context(tenant_a.company):
        document = Document.objects.get()
        assert (document.name, document.file.filename, document.file.uploaded_by) == (
            "process.md",
            "process.md",
            tenant_a.designer,
        )
        services.proposal_make(conversation.messages.get(status=Message.Status.PENDING).pk)
        conversation.refresh_from_db()
    assert conversation.proposal["bundle"]["workflow"]["title"] == "Laundry pickup"


def test_the_answer_holds_the_gated_proposal_and_is_made_once(tenant_a: Tenant) -> None:
    conversation = answered(tenant_a)

    with company_context(tenant_a.company):
        answer = conversation.messages.get(role=Message.Role.ASSISTANT)
        assert services.proposal_make(answer.pk) is None  # a duplicate job changes nothing
    assert answer.status == Message.Status.DONE and answer.generator == "outline"
    assert answer.text.startswith(
        "Here is a workflow for “Laundry pickup”: 7 fields on the form and 4 steps."
    )
    assert answer.usage["seconds"] >= 0 and answer.usage["rounds"] == 0
    assert conversation.proposal == answer.proposal
    assert conversation.proposal["problems"] == []
    assert conversation.proposal["new_roles"] == ["Driver", "Washer", "Manager", "Staff"]


class Failing:
    name = "failing"

    def propose(self, request: ProposalRequest, **kwargs: object) -> Proposal:
        raise GeneratorFailed("The AI service at example.invalid could not be reached.")


class Broken:
    name = "broken"

    def propose(self, request: ProposalRequest, **kwargs: object) -> Proposal:
        raise KeyError("a bug")


@pytest.mark.parametrize(
    ("maker", "text"),
    [
        (Failing(), "The AI service at example.invalid could not be reached."),
        (Broken(), "The assistant failed unexpectedly; the error was logged. Try again."),
    ],
)
def test_a_failing_generator_is_told_in_the_thread(tenant_a: Tenant, maker: object, text: str) -> None:
    conversation = services.conversation_start(actor=tenant_a.designer)
    services.message_post(actor=tenant_a.designer, conversation=conversation, text=LAUNDRY)

    with company_context(tenant_a.company):
        pending = conversation.messages.get(status=Message.Status.PENDING)
        failed = services.proposal_make(pending.pk, chosen=maker)  # type: ignore[arg-type]
    assert failed is not None and (failed.status, failed.text) == (Message.Status.FAILED, text)


def test_saving_creates_the_roles_and_writes_a_draft_marked_as_the_assistants(tenant_a: Tenant) -> None:
    conversation = answered(tenant_a)

    result = services.proposal_save(actor=tenant_a.admin, conversation=conversation)

    assert result.ok, result.problems
    assert result.created_roles == ["Driver", "Washer", "Manager", "Staff"]
    assert result.message == "Saved as draft version 1 of “Laundry pickup”."
    with company_context(tenant_a.company):
        workflow = WorkflowDefinition.objects.get()
        assert [t.worker_role.name for t in workflow.tasks.order_by("pk") if t.worker_role] == [
            "Driver",
            "Washer",
            "Manager",
            "Driver",
        ]
        version = Version.objects.get_for_object(workflow).get()
        marker = AssistantRevision.objects.get()
        conversation.refresh_from_db()
        assert (conversation.workflow, conversation.saved_version) == (workflow, 1)
        assert workflow.releases.count() == 0  # publishing stays a person's act
    assert version.revision.user == tenant_a.admin
    assert version.revision.comment == "Written by the assistant (conversation “Laundry”)"
    assert (marker.revision_id, marker.conversation_id) == (version.revision_id, conversation.pk)


def test_saving_again_updates_the_same_workflow_and_publishing_is_asked_for(tenant_a: Tenant) -> None:
    conversation = answered(tenant_a)
    services.proposal_save(actor=tenant_a.admin, conversation=conversation)

    result = services.proposal_save(actor=tenant_a.admin, conversation=conversation, publish=True)

    assert result.ok and result.version == 2 and result.release is not None
    assert result.release.number == 1


def test_a_designer_who_may_not_create_roles_saves_nothing(tenant_a: Tenant) -> None:
    conversation = answered(tenant_a)

    result = services.proposal_save(actor=tenant_a.designer, conversation=conversation)

    assert result.problems == [
        "Saving creates the company role “Driver”, and only a company admin may create roles."
    ]
    with company_context(tenant_a.company):
        assert not WorkflowDefinition.objects.exists()
        assert not CompanyRole.objects.filter(name="Driver").exists()


def test_a_proposal_with_problems_is_not_saved(tenant_a: Tenant) -> None:
    conversation = answered(tenant_a)
    broken = dict(conversation.proposal["bundle"])
    broken["workflow"] = {**broken["workflow"], "transitions": []}

    result = services.proposal_save(actor=tenant_a.admin, conversation=conversation, bundle=broken)

    assert not result.ok and result.message == "Not saved: the proposal has problems."
    with company_context(tenant_a.company):
        assert not WorkflowDefinition.objects.exists()


def test_only_designers_talk_to_the_assistant(tenant_a: Tenant) -> None:
    with pytest.raises(PermissionDenied):
        services.conversation_start(actor=tenant_a.worker)


# --- the command line ------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("assistant", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path: Path, text: str, name: str = "laundry.txt") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_propose_prints_the_bundle_then_the_reply_and_writes_nothing(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    out, err = run("propose", write(tmp_path, LAUNDRY), "--company", tenant_a.company.name)

    assert out.startswith("format: ticketflower-bundle/1\nworkflow:\n  title: Laundry pickup\n")
    reply = out.index("# Reply\n# Here is a workflow for “Laundry pickup”")
    assert out.index("ticket_types:") < reply
    assert out.rstrip().endswith("# Company roles created on save: Driver, Washer, Manager, Staff")
    assert err == ""
    with company_context(tenant_a.company):
        assert not WorkflowDefinition.objects.exists() and not Conversation.objects.exists()


def test_propose_save_publish_writes_and_publishes(tenant_a: Tenant, tmp_path: Path) -> None:
    _, err = run(
        "propose", write(tmp_path, LAUNDRY), "--company", tenant_a.company.name, "--save", "--publish"
    )

    assert "Created the company role “Washer”." in err
    assert "Published release #1. New tickets of “Laundry pickup” run it" in err
    with company_context(tenant_a.company):
        workflow = WorkflowDefinition.objects.get()
        assert workflow.releases.get().published_by == tenant_a.admin
        assert Conversation.objects.get().workflow == workflow


def test_propose_with_problems_exits_non_zero_and_writes_nothing(tenant_a: Tenant, tmp_path: Path) -> None:
    # A title alone: a workflow without tasks, which validation refuses.
    with pytest.raises(CommandError, match="the proposal has problems; nothing was saved"):
        run("propose", write(tmp_path, "Only a title"), "--company", tenant_a.company.name, "--save")

    with company_context(tenant_a.company):
        assert not WorkflowDefinition.objects.exists() and not Conversation.objects.exists()


def test_propose_refuses_publish_without_save_and_unreadable_files(tenant_a: Tenant, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--publish needs --save"):
        run("propose", write(tmp_path, LAUNDRY), "--company", tenant_a.company.name, "--publish")
    with pytest.raises(CommandError, match="exe"):
        run("propose", write(tmp_path, "x", "tool.exe"), "--company", tenant_a.company.name)


# --- with the LLM generator ------------------------------------------------------------------


@pytest.fixture
def llm(settings: Any) -> Iterator[ChatServer]:
    with chat_server() as server:
        settings.ASSISTANT_GENERATOR = "llm"
        settings.ASSISTANT_API_BASE = server.base
        settings.ASSISTANT_MODEL = "test-model"
        settings.ASSISTANT_TIMEOUT = 5.0
        yield server


def test_the_llm_answers_in_the_thread_with_its_usage(tenant_a: Tenant, llm: ChatServer) -> None:
    llm.answer(streamed(recorded("laundry.json"), usage=(1500, 420)))

    conversation = answered(tenant_a, "We pick up laundry; a driver collects it.")

    with company_context(tenant_a.company):
        answer = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert (answer.status, answer.generator) == (Message.Status.DONE, "llm")
    assert (answer.usage["prompt_tokens"], answer.usage["completion_tokens"], answer.usage["rounds"]) == (
        1500,
        420,
        1,
    )
    assert conversation.proposal["bundle"]["workflow"]["title"] == "Laundry pickup"
    assert "Alpha staff" in llm.received[0].system  # the company's roles


def test_an_unreachable_llm_is_said_in_the_thread(tenant_a: Tenant, settings: Any) -> None:
    settings.ASSISTANT_GENERATOR = "llm"
    settings.ASSISTANT_API_BASE = "http://127.0.0.1:9/v1"
    settings.ASSISTANT_MODEL = "test-model"

    conversation = answered(tenant_a, "We pick up laundry.")

    with company_context(tenant_a.company):
        answer = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert answer.status == Message.Status.FAILED
    assert "could not be reached" in answer.text
    assert conversation.proposal == {}


# --- what must not stall or stick ------------------------------------------------------------


class Unfinished:
    """A generator whose proposal breaks what comes after it (its usage cannot be recorded)."""

    name = "unfinished"

    def propose(self, request: ProposalRequest, **kwargs: object) -> Proposal:
        proposal = OutlineGenerator().propose(request)
        proposal.usage = object()  # type: ignore[assignment]
        return proposal


def test_a_failure_after_the_generator_still_ends_the_wait(tenant_a: Tenant) -> None:
    conversation = services.conversation_start(actor=tenant_a.designer)
    services.message_post(actor=tenant_a.designer, conversation=conversation, text=LAUNDRY)

    with company_context(tenant_a.company):
        pending = conversation.messages.get(status=Message.Status.PENDING)
        failed = services.proposal_make(pending.pk, chosen=Unfinished())
    assert failed is not None and failed.status == Message.Status.FAILED
    services.message_post(actor=tenant_a.designer, conversation=conversation, text="again")  # not locked


def test_an_answer_with_nul_characters_is_stored_without_them(tenant_a: Tenant, llm: ChatServer) -> None:
    answer = json.loads(recorded("laundry.json"))
    answer["reply"] = "Here\u0000 it is"
    answer["bundle"]["workflow"]["description"] = "Bags\u0000 of laundry"
    llm.answer(streamed(json.dumps(answer)))

    conversation = answered(tenant_a, "We pick up laundry.")

    assert conversation.proposal["reply"] == "Here it is"
    assert conversation.proposal["bundle"]["workflow"]["description"] == "Bags of laundry"


def test_an_answer_that_never_came_gives_way(tenant_a: Tenant) -> None:
    conversation = services.conversation_start(actor=tenant_a.designer)
    services.message_post(actor=tenant_a.designer, conversation=conversation, text=LAUNDRY)
    with company_context(tenant_a.company):
        Message.objects.filter(status=Message.Status.PENDING).update(
            created_at=timezone.now() - services.PENDING_GIVES_UP - timedelta(seconds=1)
        )

    services.message_post(actor=tenant_a.designer, conversation=conversation, text="make the photo required")

    with company_context(tenant_a.company):
        statuses = list(conversation.messages.order_by("id").values_list("role", "status", "text"))
    assert statuses[1] == ("assistant", "failed", "The assistant did not answer in time. Try again.")
    assert statuses[-1][:2] == ("assistant", "pending")


def test_a_workflow_the_designer_may_not_edit_takes_no_messages(tenant_a: Tenant) -> None:
    conversation = answered(tenant_a)
    services.proposal_save(actor=tenant_a.admin, conversation=conversation)
    with company_context(tenant_a.company):
        Company.objects.filter(pk=tenant_a.company.pk).update(restrict_definitions=True)
    tenant_a.designer.refresh_from_db()
    conversation.refresh_from_db()

    with pytest.raises(PermissionDenied):
        services.message_post(actor=tenant_a.designer, conversation=conversation, text="make it blue")


def test_a_save_that_cannot_import_creates_no_roles(tenant_a: Tenant) -> None:
    conversation = answered(tenant_a)
    services.proposal_save(
        actor=tenant_a.admin,
        conversation=services.conversation_record(
            actor=tenant_a.admin, title="Other", text=LAUNDRY, proposal=conversation.proposal, usage={}
        ),
    )
    with company_context(tenant_a.company):
        CompanyRole.objects.filter(name__in=["Driver", "Washer"]).delete()

    # The same title as the workflow just saved: the import refuses, after roles were made.
    result = services.proposal_save(actor=tenant_a.admin, conversation=conversation)

    assert not result.ok and "already has a workflow called" in result.problems[0]
    with company_context(tenant_a.company):
        assert not CompanyRole.objects.filter(name__in=["Driver", "Washer"]).exists()
        assert WorkflowDefinition.objects.count() == 1


@pytest.mark.parametrize(
    "text",
    [
        "1. Manager checks. If amount" + " " * 20_000 + "x",
        "if " * 6666,
        ("1. Clerk checks. " + "if " * 160 + "\n") * 120,
        "1. A checks. If " + ", " * 9_000,
        "1. X does. Repeat " + "until " * 3_000,
    ],
)
def test_a_hostile_outline_is_read_without_stalling(text: str) -> None:
    started = time.monotonic()

    OutlineGenerator().propose(ProposalRequest(messages=[ChatMessage("user", text)]))

    # A guard against runaway regular expressions (seconds to minutes), not a speed target.
    assert time.monotonic() - started < 5
