"""The assistant's conversations: a thread of messages and documents per company, and the
proposal the latest answer made.

A conversation belongs to the designer who started it and the workflow it saved into (once it
has). Proposals are kept with the assistant's message that made them, so the thread shows how
the workflow came about; the conversation holds the latest one, which the page shows and
"Save as draft" writes.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ticketflower.tenancy.constraints import company_key, same_company
from ticketflower.tenancy.models import CompanyOwnedModel


class Conversation(CompanyOwnedModel):
    title = models.CharField(_("title"), max_length=200)
    workflow = models.ForeignKey(
        "definitions.WorkflowDefinition",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("workflow"),
        help_text=_("The workflow this conversation writes the draft of."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last message"), auto_now=True)
    # The latest proposal: {"bundle", "reply", "questions", "problems", "new_roles", "generator"}.
    proposal = models.JSONField(_("proposal"), default=dict, blank=True)
    saved_version = models.PositiveIntegerField(_("saved as draft version"), null=True, blank=True)
    saved_sha256 = models.CharField(_("fingerprint of the saved proposal"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("assistant conversation")
        verbose_name_plural = _("assistant conversations")
        ordering = ["-updated_at", "-id"]
        constraints = [
            company_key("assistant_conversation"),
            *same_company("assistant_conversation", "workflow", "created_by"),
        ]

    def __str__(self) -> str:
        return self.title


class Message(CompanyOwnedModel):
    class Role(models.TextChoices):
        USER = "user", _("Designer")
        ASSISTANT = "assistant", _("Assistant")

    class Status(models.TextChoices):
        DONE = "done", _("Done")
        PENDING = "pending", _("Writing…")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(_("from"), max_length=10, choices=Role.choices)
    text = models.TextField(_("text"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DONE)
    generator = models.CharField(_("generator"), max_length=100, blank=True)
    # tokens in and out, seconds, rounds: what the answer cost (assistant messages)
    usage = models.JSONField(_("usage"), default=dict, blank=True)
    proposal = models.JSONField(_("proposal"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    class Meta:
        verbose_name = _("assistant message")
        verbose_name_plural = _("assistant messages")
        ordering = ["created_at", "id"]
        constraints = [
            company_key("assistant_message"),
            *same_company("assistant_message", "conversation", "created_by"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.text[:60]}"


class Document(CompanyOwnedModel):
    """A file uploaded into a conversation and the text read from it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="documents")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="documents")
    # Kept while the conversation is: the files app's orphan job leaves files a document names.
    file = models.ForeignKey("files.FileUpload", on_delete=models.CASCADE, related_name="assistant_documents")
    name = models.CharField(_("name"), max_length=255)
    text = models.TextField(_("text"), blank=True)

    class Meta:
        verbose_name = _("assistant document")
        verbose_name_plural = _("assistant documents")
        ordering = ["id"]
        constraints = [
            company_key("assistant_document"),
            *same_company("assistant_document", "conversation", "message", "file"),
        ]

    def __str__(self) -> str:
        return self.name


class AssistantRevision(CompanyOwnedModel):
    """Marks a draft revision as written by the assistant (reversion meta), and from which talk."""

    revision = models.OneToOneField("reversion.Revision", on_delete=models.CASCADE, related_name="assistant")
    conversation = models.ForeignKey(Conversation, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        verbose_name = _("assistant-made revision")
        verbose_name_plural = _("assistant-made revisions")
        constraints = [company_key("assistant_revision"), *same_company("assistant_revision", "conversation")]
