"""Generators behind the assistant's slot, chosen by the ASSISTANT_GENERATOR setting."""

from django.conf import settings
from django.utils.module_loading import import_string

from ticketflower.assistant.generators.base import Generator

GENERATORS = {
    "outline": "ticketflower.assistant.generators.outline.OutlineGenerator",
    "llm": "ticketflower.assistant.generators.llm.LlmGenerator",
}


def generator(name: str = "") -> Generator:
    """The configured generator (or the one named): a short name above or a dotted class path."""
    chosen = name or settings.ASSISTANT_GENERATOR
    cls = import_string(GENERATORS.get(chosen, chosen))
    instance: Generator = cls()
    return instance
