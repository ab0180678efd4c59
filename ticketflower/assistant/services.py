"""Writes of the assistant: conversations, messages with documents, proposals, and saving one.

A person's message and the job that answers it commit together (`message_post`); the job
(`proposal_make`) runs the configured generator, passes its proposal through the gate and
stores it with the assistant's message. Saving (`proposal_save`) writes the workflow's draft
through the same bundle import as an upload, creating the company roles the proposal names,
in one transaction; publishing stays a person's act (`publish=True` is that act).
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import reversion
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ticketflower.accounts.models import User
from ticketflower.assistant import jobs
from ticketflower.assistant.documents import DocumentReaderUnavailable, DocumentRefused, extract_text
from ticketflower.assistant.gate import GateReport, gate
from ticketflower.assistant.generators import generator
from ticketflower.assistant.generators.base import (
    ChatMessage,
    Generator,
    GeneratorFailed,
    OnText,
    Proposal,
    ProposalRequest,
)
from ticketflower.assistant.generators.base import (
    Document as GeneratorDocument,
)
from ticketflower.assistant.models import AssistantRevision, Conversation, Document, Message
from ticketflower.definitions import services as definitions
from ticketflower.definitions.bundles import bundle_sha256, workflow_bundle
from ticketflower.definitions.models import WorkflowDefinition, WorkflowRelease
from ticketflower.files.services import FileRefused, file_upload
from ticketflower.files.sniffing import sniff
from ticketflower.tenancy.context import acting_as
from ticketflower.tenancy.models import CompanyRole
from ticketflower.tenancy.services import company_role_create
from ticketflower.tenancy.versions import company_revision

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 20_000
MAX_DOCUMENTS_PER_MESSAGE = 5
STREAM_SAVE_SECONDS = 0.5
# A pending answer older than this is given up (the job's retries are long over by then).
PENDING_GIVES_UP = timedelta(minutes=30)  # how often a streamed reply's text so far is written for the page


class MessageRefused(ValueError):
    """A message that is not taken; the text says why, for the person."""


def conversation_start(
    *, actor: User, title: str = "", workflow: WorkflowDefinition | None = None
) -> Conversation:
    definitions.require_designer(actor)
    if workflow is not None:
        definitions.require_edit_right(actor, workflow)
    with acting_as(actor):
        conversation: Conversation = Conversation.objects.create(
            title=(title.strip() or (workflow.title if workflow else _("New conversation")))[:200],
            workflow=workflow,
            created_by=actor,
        )
        return conversation


def _checked(text: str, uploads: Sequence[UploadedFile[Any]]) -> tuple[str, list[str]]:
    """The message's text as stored, and its documents' text; MessageRefused says what is wrong.

    Documents are read here, before any transaction (reading one may take seconds), and checked
    as the files app will store them, so a refused one changes nothing.
    """
    text = text.replace("\r\n", "\n").strip()
    if not text and not uploads:
        raise MessageRefused(_("Write a message or add a document."))
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageRefused(
            _("A message may be at most %(n)d characters (it has %(has)d): send a document instead.")
            % {"n": MAX_MESSAGE_CHARS, "has": len(text)}
        )
    if len(uploads) > MAX_DOCUMENTS_PER_MESSAGE:
        raise MessageRefused(_("At most %(n)d documents per message.") % {"n": MAX_DOCUMENTS_PER_MESSAGE})
    texts = [_document_text(upload) for upload in uploads]
    for upload in uploads:
        if upload.file is not None and sniff(upload.file, upload.name or "document") is None:
            raise MessageRefused(
                _("“%(name)s” cannot be kept: save text as UTF-8 and send it again.") % {"name": upload.name}
            )
        upload.seek(0)
    return text, texts


def message_post(
    *,
    actor: User,
    conversation: Conversation,
    text: str,
    uploads: Sequence[UploadedFile[Any]] = (),
) -> Message:
    """The person's message, its documents, and the job that answers it: all or nothing."""
    definitions.require_designer(actor)
    text, texts = _checked(text, uploads)
    with transaction.atomic():
        return _message_store(actor, conversation, text, uploads, texts)


def conversation_open(
    *,
    actor: User,
    text: str,
    uploads: Sequence[UploadedFile[Any]] = (),
    title: str = "",
    workflow: WorkflowDefinition | None = None,
) -> Conversation:
    """A new conversation with its first message: both, or neither when the message is refused."""
    definitions.require_designer(actor)
    text, texts = _checked(text, uploads)
    with transaction.atomic():
        conversation = conversation_start(actor=actor, title=title, workflow=workflow)
        _message_store(actor, conversation, text, uploads, texts)
    return conversation


def _document_text(upload: UploadedFile[Any]) -> str:
    try:
        text = extract_text(upload.name or "document", upload.read())
    except DocumentRefused as exc:
        raise MessageRefused(str(exc)) from exc
    except DocumentReaderUnavailable as exc:
        logger.error("Documents cannot be read: %s", exc)
        raise MessageRefused(_("Documents of this kind cannot be read on this server right now.")) from exc
    upload.seek(0)
    return text


def _message_store(
    actor: User, conversation: Conversation, text: str, uploads: Sequence[UploadedFile[Any]], texts: list[str]
) -> Message:
    with acting_as(actor):
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.workflow is not None:
            definitions.require_edit_right(actor, locked.workflow)  # its proposals become that draft
        waiting = locked.messages.filter(status=Message.Status.PENDING)
        # An answer that never came (a worker that was down for good) gives way after a while.
        waiting.filter(created_at__lt=timezone.now() - PENDING_GIVES_UP).update(
            status=Message.Status.FAILED, text=_("The assistant did not answer in time. Try again.")
        )
        if waiting.exists():
            raise MessageRefused(_("The assistant is still answering your last message: wait for it."))
        message: Message = Message.objects.create(
            conversation=locked, role=Message.Role.USER, text=text, created_by=actor
        )
        for upload, extracted in zip(uploads, texts, strict=True):
            try:
                stored = file_upload(user=actor, uploaded=upload)
            except FileRefused as exc:
                raise MessageRefused(str(exc)) from exc
            Document.objects.create(
                conversation=locked, message=message, file=stored, name=stored.filename, text=extracted
            )
        answer = Message.objects.create(
            conversation=locked, role=Message.Role.ASSISTANT, status=Message.Status.PENDING, generator=""
        )
        locked.save(update_fields=["updated_at"])
        jobs.defer_reply(answer)
    return message


def proposal_make(message_id: int, *, chosen: Generator | None = None) -> Message | None:
    """Answer a pending assistant message: generate, gate, store. Runs in the company's context.

    Idempotent: a message no longer pending (answered, or a duplicate job) is left alone.
    """
    message = (
        Message.objects.filter(pk=message_id, status=Message.Status.PENDING)
        .select_related("conversation")
        .first()
    )
    if message is None:
        return None
    try:
        return _answer(message, chosen)
    except GeneratorFailed as exc:
        return _failed(message, str(exc))
    except Exception:  # nothing may leave the conversation waiting for an answer that never comes
        logger.exception("The assistant failed on message %s.", message.pk)
        return _failed(message, _("The assistant failed unexpectedly; the error was logged. Try again."))


def _answer(message: Message, chosen: Generator | None) -> Message:
    conversation = message.conversation
    request = proposal_request(conversation)
    maker = chosen or generator()
    message.generator = maker.name
    last_save = 0.0

    def on_text(text: str) -> None:
        nonlocal last_save
        if time.monotonic() - last_save >= STREAM_SAVE_SECONDS:
            last_save = time.monotonic()
            Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
                text=_printable(text[: MAX_MESSAGE_CHARS * 5])
            )

    proposal, stored = proposal_generate(maker, request, on_text=on_text)
    with transaction.atomic():
        current: Message = Message.objects.select_for_update().get(pk=message.pk)
        if current.status != Message.Status.PENDING:
            return current
        current.text = stored["reply"]
        current.status = Message.Status.DONE
        current.generator = maker.name
        current.usage = proposal.usage.as_dict()
        current.proposal = stored
        current.save()
        Conversation.objects.filter(pk=conversation.pk).update(proposal=stored)
    return current


def _printable[T](value: T) -> T:
    """`value` with every NUL character taken out of its strings (keys included)."""
    if isinstance(value, str):
        return value.replace("\x00", "")  # type: ignore[return-value]
    if isinstance(value, list):
        return [_printable(item) for item in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}  # type: ignore[return-value]
    return value


def _failed(message: Message, reason: str) -> Message:
    Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
        status=Message.Status.FAILED, text=reason, generator=message.generator
    )
    message.refresh_from_db()
    return message


def proposal_request(conversation: Conversation) -> ProposalRequest:
    """What a generator is given: the thread so far, its documents, the roles and the draft."""
    thread = conversation.messages.filter(status=Message.Status.DONE).prefetch_related("documents")
    messages = [
        ChatMessage(role=m.role, text=m.text, documents=tuple(d.name for d in m.documents.all()))  # type: ignore[arg-type]
        for m in thread.order_by("created_at", "id")
    ]
    documents = [
        GeneratorDocument(name=d.name, text=d.text, file_id=d.file_id) for d in conversation.documents.all()
    ]
    draft = conversation.proposal.get("bundle") or None
    if draft is None and conversation.workflow is not None:
        draft = workflow_bundle(conversation.workflow)
    roles = list(CompanyRole.objects.order_by("name").values_list("name", flat=True))
    return ProposalRequest(messages=messages, documents=documents, roles=roles, draft=draft)


def proposal_generate(
    maker: Generator, request: ProposalRequest, *, on_text: OnText | None = None
) -> tuple[Proposal, dict[str, Any]]:
    """`maker`'s proposal, with the gate as its check, and the proposal as stored: what the
    generator made and what the gate says of it. The gate runs once per distinct bundle, so a
    generator's last check is also the record's."""
    reports: dict[str, GateReport] = {}

    def gated(bundle: Any) -> GateReport:
        key = bundle_sha256(bundle) if isinstance(bundle, dict) else repr(bundle)
        if key not in reports:
            reports[key] = gate(bundle, roles=request.roles)
        return reports[key]

    proposal = maker.propose(request, check=lambda bundle: gated(bundle).lines(), on_text=on_text)
    report = gated(proposal.bundle)
    stored = {
        "bundle": proposal.bundle,
        "reply": proposal.reply,
        "questions": proposal.questions,
        "problems": report.lines(),
        "new_roles": report.new_roles,
        "generator": maker.name,
    }
    # PostgreSQL's text and jsonb take no NUL character; a model's answer may hold one.
    return proposal, _printable(stored)


# --- saving ----------------------------------------------------------------------------------


@dataclass
class SaveResult:
    problems: list[str] = field(default_factory=list)
    workflow: WorkflowDefinition | None = None
    version: int | None = None
    created_roles: list[str] = field(default_factory=list)
    release: WorkflowRelease | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


class _Undo(Exception):
    pass


def proposal_save(
    *, actor: User, conversation: Conversation, bundle: dict[str, Any] | None = None, publish: bool = False
) -> SaveResult:
    """Write the proposal as the workflow's draft (and publish it): all of it, or nothing.

    The gate runs again: company roles and other workflows may have changed since the
    proposal was made. The draft revision is marked as the assistant's (AssistantRevision)
    and attributed to `actor`.
    """
    definitions.require_designer(actor)
    bundle = bundle if bundle is not None else conversation.proposal.get("bundle")
    if not bundle:
        return SaveResult(problems=[_("There is no proposal to save yet.")])
    result = SaveResult()
    with acting_as(actor):
        report = gate(bundle, roles=list(CompanyRole.objects.values_list("name", flat=True)))
        if report.problems:
            return SaveResult(problems=report.lines(), message=_("Not saved: the proposal has problems."))
        try:
            with transaction.atomic():
                # One save at a time: a second waits, then writes into the workflow the first made.
                conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
                _save(actor, conversation, bundle, report.new_roles, publish, result)
                if result.problems:
                    raise _Undo
        except _Undo:
            result.workflow, result.version, result.release, result.created_roles = None, None, None, []
    return result


def _save(
    actor: User,
    conversation: Conversation,
    bundle: dict[str, Any],
    new_roles: list[str],
    publish: bool,
    result: SaveResult,
) -> None:
    for name in new_roles:
        try:
            company_role_create(actor=actor, name=name, description=_("Created by the assistant."))
        except PermissionDenied:
            result.problems.append(
                _("Saving creates the company role “%(name)s”, and only a company admin may create roles.")
                % {"name": name}
            )
            return
        except ValidationError as exc:
            result.problems.append(
                _("The role “%(name)s” cannot be created: %(why)s")
                % {"name": name, "why": "; ".join(exc.messages)}
            )
            return
        result.created_roles.append(name)
    into = conversation.workflow
    comment = _("Written by the assistant (conversation “%(title)s”)") % {"title": conversation.title}
    with company_revision(user=actor, comment=comment):
        reversion.add_meta(AssistantRevision, conversation=conversation)
        imported = definitions.bundle_import(actor=actor, bundle=bundle, into=into, comment=comment)
    if not imported.ok or imported.workflow is None or imported.state is None:
        result.problems += [str(p) for p in imported.problems]
        return
    result.workflow, result.version = imported.workflow, imported.state.version
    sha = bundle_sha256(bundle)
    Conversation.objects.filter(pk=conversation.pk).update(
        workflow=imported.workflow, saved_version=result.version, saved_sha256=sha
    )
    conversation.workflow, conversation.saved_version = imported.workflow, result.version
    conversation.saved_sha256 = sha
    result.message = _("Saved as draft version %(n)d of “%(title)s”.") % {
        "n": result.version,
        "title": imported.workflow.title,
    }
    if publish:
        published = definitions.workflow_publish(actor=actor, workflow=imported.workflow, note=comment)
        if not published.ok:
            result.problems += [str(p) for p in published.problems] or [published.message]
            return
        result.release = published.release
        result.message = published.message


def conversation_record(
    *,
    actor: User,
    title: str,
    text: str,
    proposal: dict[str, Any],
    usage: dict[str, Any],
    workflow: WorkflowDefinition | None = None,
) -> Conversation:
    """A conversation made outside the chat page (`manage.py assistant propose --save`): the
    outline as the person's message and the proposal as the answer, so the draft's history
    leads back to what it was made from."""
    with transaction.atomic():
        conversation = conversation_start(actor=actor, title=title, workflow=workflow)
        with acting_as(actor):
            Message.objects.create(
                conversation=conversation, role=Message.Role.USER, text=text, created_by=actor
            )
            Message.objects.create(
                conversation=conversation,
                role=Message.Role.ASSISTANT,
                text=proposal["reply"],
                generator=proposal["generator"],
                usage=usage,
                proposal=proposal,
            )
            conversation.proposal = proposal
            conversation.save(update_fields=["proposal"])
    return conversation
