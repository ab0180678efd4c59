"""The assistant's slot: what every generator is given and what it must hand back.

A generator turns a conversation (and the documents uploaded into it) into a proposal: one
complete `ticketflower-bundle/1` bundle, layouts included, a reply for the person and the
questions it could not settle. It never writes anything: the gate checks the proposal
(`ticketflower.assistant.gate`) and a person saves it (`ticketflower.assistant.services`).

Generators are chosen by the `ASSISTANT_GENERATOR` setting (`generators.generator()`), so a
new one is a class with a `name` and a `propose` method, nothing else.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    text: str
    documents: tuple[str, ...] = ()  # names of the documents sent with it (in ProposalRequest.documents)


@dataclass(frozen=True)
class Document:
    """An uploaded file as a generator sees it: its name, its text, and the stored file's id."""

    name: str
    text: str
    file_id: int | None = None


@dataclass(frozen=True)
class ProposalRequest:
    messages: list[ChatMessage]  # oldest first; the last one is the person's newest
    documents: list[Document] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # the company's role names, as spelled
    draft: dict[str, Any] | None = None  # the bundle being revised: the last proposal or the draft


@dataclass
class Usage:
    """What producing a proposal cost; recorded with the assistant's message."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    rounds: int = 0  # requests made (1 + repair rounds) for the LLM; 0 for local generators

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
            "rounds": self.rounds,
        }


@dataclass
class Proposal:
    bundle: dict[str, Any]
    reply: str
    questions: list[str] = field(default_factory=list)  # open questions and assumptions made
    usage: Usage = field(default_factory=Usage)
    # Set by the gate, not by generators: what keeps the proposal from being saved.
    problems: list[str] = field(default_factory=list)


# The gate as a generator may call it: the problems of a candidate bundle as readable lines
# ("workflow.tasks[0].edit_layout: Line 2, column 13: …"); empty when it passes.
Check = Callable[[dict[str, Any]], list[str]]
# Called with the reply's text so far while a generator streams it.
OnText = Callable[[str], None]


class GeneratorFailed(Exception):
    """The generator could not produce a proposal; the message says why, in words for the person."""


class Generator(Protocol):
    name: str  # shown beside each assistant message ("outline", "llm")

    def propose(
        self, request: ProposalRequest, *, check: Check | None = None, on_text: OnText | None = None
    ) -> Proposal:
        """A proposal for `request`, or GeneratorFailed. `check` is the gate: a generator that can
        repair its own output (the LLM) calls it and feeds the problems back; one that cannot
        returns its best bundle and the gate reports the rest."""
        ...
