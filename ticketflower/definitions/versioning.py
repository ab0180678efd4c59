"""Version history of definitions with django-reversion.

A workflow's revision follows its tasks and transitions, so reverting a workflow restores
the whole graph as it was.
"""

import reversion

from ticketflower.definitions.models import (
    TaskDefinition,
    TicketDefinition,
    WorkflowDefinition,
    WorkflowTransition,
)


def register() -> None:
    if reversion.is_registered(WorkflowDefinition):
        return
    reversion.register(TaskDefinition)
    reversion.register(WorkflowTransition)
    reversion.register(WorkflowDefinition, follow=["tasks", "transitions"])
    reversion.register(TicketDefinition)
