"""The design site's "Assistant": conversations that turn a description into a workflow.

Thin views over `ticketflower.assistant`: a message is stored with the job that answers it
(the page polls `state` while the assistant writes); the conversation page shows the thread
beside the latest proposal's artefacts; "Save as draft" and "Publish" are the services a
person triggers.
"""

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from unfold.widgets import UnfoldAdminTextareaWidget

from ticketflower.accounts.models import User
from ticketflower.assistant import selectors, services
from ticketflower.assistant.documents import ACCEPTED
from ticketflower.assistant.models import Conversation, Message
from ticketflower.core.ratelimit import rate_limit_hit
from ticketflower.definitions import services as definitions
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.tenancy.access import get_owned_or_404

MESSAGES_LIMIT = "assistant_messages_per_user"


class DocumentsInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class DocumentsField(forms.FileField):
    def __init__(self, **kwargs: Any) -> None:
        accept = ",".join(f".{ext}" for ext in ACCEPTED)
        attrs = {"multiple": True, "accept": accept, "class": "tf-input"}
        super().__init__(widget=DocumentsInput(attrs=attrs), **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[Any]]:
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(DocumentsField, self).clean(item, initial) for item in files]


class MessageForm(forms.Form):
    # The length is checked by the service once line ends are "\n": browsers count a line end
    # as one character, and send two.
    text = forms.CharField(
        label=gettext_lazy("Message"),
        required=False,
        strip=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 8, "maxlength": services.MAX_MESSAGE_CHARS}),
    )
    documents = DocumentsField(
        label=gettext_lazy("Documents"),
        required=False,
        help_text=gettext_lazy("txt, md, docx, pdf, csv or xlsx; up to 5 MB each, 5 at a time."),
    )


class NewConversationForm(MessageForm):
    workflow = forms.ModelChoiceField(
        queryset=WorkflowDefinition.objects.none(),
        required=False,
        label=gettext_lazy("Revise a workflow"),
        help_text=gettext_lazy("Leave empty to make a new workflow."),
    )


def urls(admin_view: Any) -> list[URLPattern]:
    # Paths name the model (assistant/conversation/<id>) like the admin's own pages do.
    one = "assistant/conversation/<int:object_id>/"
    return [
        path("assistant/", admin_view(index_view), name="assistant"),
        path(one, admin_view(conversation_view), name="assistant_conversation"),
        path(f"{one}state/", admin_view(state_view), name="assistant_state"),
        path(f"{one}save/", admin_view(save_view), name="assistant_save"),
        path(f"{one}publish/", admin_view(publish_view), name="assistant_publish"),
    ]


def _context(request: HttpRequest, title: str) -> dict[str, Any]:
    from ticketflower.admin_sites.design import design_site

    return {**design_site.each_context(request), "title": title}


def _url(conversation: Conversation) -> str:
    return reverse("design:assistant_conversation", args=[conversation.pk])


def index_view(request: HttpRequest) -> HttpResponse:
    actor = cast(User, request.user)
    form = NewConversationForm(request.POST or None, request.FILES or None)
    workflow_field = cast(forms.ModelChoiceField, form.fields["workflow"])  # type: ignore[type-arg]
    workflow_field.queryset = definitions.editable_workflows(actor)
    if request.method == "POST" and form.is_valid() and not _limited(request, form):
        workflow = form.cleaned_data.get("workflow")
        text = form.cleaned_data["text"]
        documents = form.cleaned_data["documents"]
        first_line = text.strip().splitlines()[0][:120] if text.strip() else ""
        title = first_line or (documents[0].name if documents else "")
        try:
            conversation = services.conversation_open(
                actor=actor, text=text, uploads=documents, title=title, workflow=workflow
            )
        except services.MessageRefused as exc:
            form.add_error(None, str(exc))
        else:
            return HttpResponseRedirect(_url(conversation))
    context = {
        **_context(request, _("Assistant")),
        "form": form,
        "conversations": list(selectors.conversations()[:100]),
    }
    return TemplateResponse(request, "admin_sites/assistant_index.html", context)


def conversation_view(request: HttpRequest, object_id: int) -> HttpResponse:
    conversation = get_owned_or_404(Conversation, pk=object_id)
    actor = cast(User, request.user)
    form = MessageForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid() and not _limited(request, form):
        try:
            services.message_post(
                actor=actor,
                conversation=conversation,
                text=form.cleaned_data["text"],
                uploads=form.cleaned_data["documents"],
            )
        except (services.MessageRefused, PermissionDenied) as exc:
            form.add_error(None, str(exc) or _("You may not change this workflow."))
        else:
            return HttpResponseRedirect(_url(conversation) + "#latest")
    thread = selectors.thread(conversation)
    state = selectors.saved_state(conversation)
    proposal = selectors.proposal_view(conversation, saved=state.saved)
    workflow = conversation.workflow
    context = {
        **_context(request, conversation.title),
        "conversation": conversation,
        "thread": thread,
        "pending": any(m.status == Message.Status.PENDING for m in thread),
        "form": form,
        "proposal": proposal,
        "can_save": proposal is not None and not proposal.problems and not state.saved,
        "can_publish": state.saved and state.published is None,
        "saved": state.saved,
        "published": state.published,
        "try_it": selectors.try_it_ticket_types(conversation),
        "workflow_url": reverse("design:definitions_workflowdefinition_change", args=[workflow.pk])
        if workflow
        else "",
    }
    return TemplateResponse(request, "admin_sites/assistant_conversation.html", context)


def _limited(request: HttpRequest, form: forms.Form) -> bool:
    limit = settings.RATE_LIMITS[MESSAGES_LIMIT]
    wait = rate_limit_hit(scope=MESSAGES_LIMIT, key=str(request.user.pk), **limit)
    if wait is not None:
        form.add_error(None, _("Too many messages: wait %(n)d seconds.") % {"n": wait})
    return wait is not None


def state_view(request: HttpRequest, object_id: int) -> JsonResponse:
    """Whether the assistant is still writing, and what it has written so far (for the page's poll)."""
    conversation = get_owned_or_404(Conversation, pk=object_id)
    latest = conversation.messages.filter(role=Message.Role.ASSISTANT).order_by("-created_at", "-id").first()
    if latest is None:
        return JsonResponse({"pending": False, "text": "", "status": ""})
    return JsonResponse(
        {"pending": latest.status == Message.Status.PENDING, "text": latest.text, "status": latest.status}
    )


@require_POST
def save_view(request: HttpRequest, object_id: int) -> HttpResponse:
    conversation = get_owned_or_404(Conversation, pk=object_id)
    try:
        result = services.proposal_save(actor=cast(User, request.user), conversation=conversation)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not edit this workflow."))
        return HttpResponseRedirect(_url(conversation))
    if result.ok:
        created = (
            " " + _("Created the company roles: %(names)s.") % {"names": ", ".join(result.created_roles)}
            if result.created_roles
            else ""
        )
        if result.created_roles:
            created += " " + _("Give people these roles on the company site (People), or their tasks wait.")
        messages.success(request, result.message + created)
    else:
        messages.error(request, result.message or _("Not saved."))
        for problem in result.problems:
            messages.error(request, problem)
    return HttpResponseRedirect(_url(conversation))


@require_POST
def publish_view(request: HttpRequest, object_id: int) -> HttpResponse:
    conversation = get_owned_or_404(Conversation, pk=object_id)
    workflow = conversation.workflow
    if workflow is None or not selectors.saved_state(conversation).saved:
        # Only what the assistant saved: a draft changed since is published from its own page.
        messages.error(
            request,
            _("Save the proposal as a draft first.")
            if workflow is None
            else _("The draft is not the proposal saved here: publish it from the workflow's page."),
        )
        return HttpResponseRedirect(_url(conversation))
    try:
        result = definitions.workflow_publish(
            actor=cast(User, request.user), workflow=workflow, note=_("Published from the assistant.")
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not publish this workflow."))
        return HttpResponseRedirect(_url(conversation))
    (messages.success if result.ok else messages.error)(request, result.message)
    for problem in result.problems:
        messages.error(request, str(problem))
    return HttpResponseRedirect(_url(conversation))
