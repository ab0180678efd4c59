"""The assistant's job: answering a message, in a worker, never in a request."""

from typing import TYPE_CHECKING

from procrastinate.contrib.django import app

from ticketflower.runtime.jobs import RETRY, company_job

if TYPE_CHECKING:
    from ticketflower.assistant.models import Message


# Its own queue, so a deployment can give the assistant its own worker
# (`procrastinate worker --queues assistant`, docs/assistant.md); one answer at a time per company
# (the lock), so one company's long LLM answers never take all of a shared worker's slots.
@app.task(name="assistant.reply", queue="assistant", retry=RETRY)
@company_job
def reply(*, message_id: int) -> None:
    from ticketflower.assistant.services import proposal_make

    proposal_make(message_id)


def defer_reply(message: "Message") -> None:
    # Deferred in the caller's transaction: the message and its job commit together, or neither.
    reply.configure(lock=f"assistant-{message.company_id}").defer(
        company_id=message.company_id, message_id=message.pk
    )
