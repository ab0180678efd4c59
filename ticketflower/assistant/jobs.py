"""The assistant's job: answering a message, in a worker, never in a request."""

from typing import TYPE_CHECKING

from procrastinate.contrib.django import app

from ticketflower.runtime.jobs import RETRY, company_job

if TYPE_CHECKING:
    from ticketflower.assistant.models import Message


@app.task(name="assistant.reply", retry=RETRY)
@company_job
def reply(*, message_id: int) -> None:
    from ticketflower.assistant.services import proposal_make

    proposal_make(message_id)


def defer_reply(message: "Message") -> None:
    # One answer per message (lock), deferred in the caller's transaction: both commit or neither.
    reply.configure(lock=f"assistant-{message.conversation_id}").defer(
        company_id=message.company_id, message_id=message.pk
    )
