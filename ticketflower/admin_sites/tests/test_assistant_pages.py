"""The design site's Assistant pages: start a conversation, see the proposal, save, publish."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import Tenant
from ticketflower.assistant import services
from ticketflower.assistant.models import Conversation, Message
from ticketflower.assistant.tests.test_outline import LAUNDRY
from ticketflower.definitions.models import WorkflowDefinition
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import CompanyRole

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandbox_origin")]


def answer_pending(tenant: Tenant) -> None:
    """What the job does: answer every pending message of the company."""
    with company_context(tenant.company):
        for pk in Message.objects.filter(status=Message.Status.PENDING).values_list("pk", flat=True):
            services.proposal_make(pk)


def start(client: Client, tenant: Tenant, text: str = LAUNDRY) -> Conversation:
    client.force_login(tenant.admin)
    response = client.post("/design/assistant/", {"text": text})
    with company_context(tenant.company):
        conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/design/assistant/conversation/{conversation.pk}/"
    return conversation


def test_the_assistant_is_in_the_design_sidebar(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.designer)

    page = client.get("/design/").content.decode()

    assert 'href="/design/assistant/"' in page


def test_a_conversation_shows_the_writing_assistant_then_the_proposal(
    client: Client, tenant_a: Tenant
) -> None:
    conversation = start(client, tenant_a)
    url = f"/design/assistant/conversation/{conversation.pk}/"

    waiting = client.get(url).content.decode()
    assert "The assistant is writing…" in waiting
    assert client.get(f"{url}state/").json() == {"pending": True, "text": "", "status": "pending"}

    answer_pending(tenant_a)
    page = client.get(url).content.decode()

    assert client.get(f"{url}state/").json()["pending"] is False
    assert "Here is a workflow for “Laundry pickup”" in page
    assert 'data-testid="workflow-graph"' in page
    assert 'data-testid="proposal-fields"' in page and "Photo of stains" in page
    assert page.count('data-testid="proposal-layout"') == 11  # 2 of the ticket, 2 per task, the workflow
    assert page.count("data-tf-layout") == 11
    assert "Saving creates these company roles:" in page and "Driver, Washer, Manager, Staff" in page
    assert "Save as draft" in page and ">Publish<" not in page


def test_save_then_publish_then_try_it(client: Client, tenant_a: Tenant) -> None:
    conversation = start(client, tenant_a, LAUNDRY.replace(" Only staff can request this.", ""))
    answer_pending(tenant_a)
    url = f"/design/assistant/conversation/{conversation.pk}/"

    saved = client.post(f"{url}save/", follow=True).content.decode()
    assert "Saved as draft version 1 of “Laundry pickup”. Created the company roles: Driver" in saved
    assert "Give people these roles on the company site (People), or their tasks wait." in saved
    assert "Edit the workflow by hand" in saved
    assert ">Save as draft<" not in saved and "Saved as draft version 1." in saved
    assert saved.count('data-testid="edit-by-hand"') == 11  # every layout opens its definition
    assert "/design/definitions/taskdefinition/" in saved and "/design/definitions/ticketdefinition/" in saved
    assert "Saving creates these company roles:" not in saved  # they exist now
    assert "The same as draft version 1." in saved  # the diff: nothing but what was saved

    published = client.post(f"{url}publish/", follow=True).content.decode()
    assert "Published release #1." in published
    assert "Saved as draft version 1 and published as release #1." in published
    assert ">Publish<" not in published
    try_it = re.search(r'href="(/submit/\d+/)"[^>]*data-testid="try-it"', published)
    assert try_it is not None
    assert client.get(try_it.group(1)).status_code == 200  # open to everybody: the admin may submit
    with company_context(tenant_a.company):
        assert WorkflowDefinition.objects.get().releases.count() == 1
        assert CompanyRole.objects.filter(name="Washer").exists()


def test_asking_for_a_change_revises_the_proposal(client: Client, tenant_a: Tenant) -> None:
    conversation = start(client, tenant_a)
    answer_pending(tenant_a)
    url = f"/design/assistant/conversation/{conversation.pk}/"

    client.post(url, {"text": "make the photo required"})
    answer_pending(tenant_a)

    conversation.refresh_from_db()
    fields = {f["name"]: f for f in conversation.proposal["bundle"]["workflow"]["fields"]}
    assert fields["photo_stains"]["required"] is True
    assert "“Photo of stains” is now required." in client.get(url).content.decode()


def test_a_document_upload_that_is_refused_says_why_and_keeps_nothing(
    client: Client, tenant_a: Tenant
) -> None:
    client.force_login(tenant_a.designer)
    bad = SimpleUploadedFile("process.docx", b"not a zip")

    response = client.post("/design/assistant/", {"text": "", "documents": [bad]})

    assert response.status_code == 200
    assert "process.docx" in response.content.decode()
    with company_context(tenant_a.company):
        assert not Conversation.objects.exists()


def test_only_designers_open_the_assistant(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.worker)

    # As every design page: not there for people without the designer role.
    assert client.get("/design/assistant/").status_code == client.get("/design/").status_code == 404


def test_another_companys_conversation_is_not_found(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    conversation = start(client, tenant_a)
    client.force_login(tenant_b.admin)

    for suffix in ("", "state/"):
        assert client.get(f"/design/assistant/conversation/{conversation.pk}/{suffix}").status_code == 404
    for suffix in ("save/", "publish/"):
        assert client.post(f"/design/assistant/conversation/{conversation.pk}/{suffix}").status_code == 404
    assert (
        f"/design/assistant/conversation/{conversation.pk}/"
        not in client.get("/design/assistant/").content.decode()
    )


def test_a_proposal_that_is_not_even_a_bundle_shows_its_problems(client: Client, tenant_a: Tenant) -> None:
    conversation = start(client, tenant_a)
    answer_pending(tenant_a)
    with company_context(tenant_a.company):
        Conversation.objects.filter(pk=conversation.pk).update(
            proposal={"bundle": {"workflow": "oops", "ticket_types": ["y"]}, "problems": [], "reply": ""}
        )

    page = client.get(f"/design/assistant/conversation/{conversation.pk}/")

    assert page.status_code == 200
    assert 'data-testid="proposal-problems"' in page.content.decode()
    assert 'data-testid="workflow-graph"' not in page.content.decode()


def test_publish_refuses_a_draft_changed_since_the_save(client: Client, tenant_a: Tenant) -> None:
    conversation = start(client, tenant_a)
    answer_pending(tenant_a)
    url = f"/design/assistant/conversation/{conversation.pk}/"
    client.post(f"{url}save/")
    with company_context(tenant_a.company):
        workflow = WorkflowDefinition.objects.get()
        WorkflowDefinition.objects.filter(pk=workflow.pk).update(
            version=workflow.version + 1
        )  # edited by hand

    page = client.post(f"{url}publish/", follow=True).content.decode()

    assert "The draft is not the proposal saved here: publish it from the workflow" in page
    with company_context(tenant_a.company):
        assert not workflow.releases.exists()
