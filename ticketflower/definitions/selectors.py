"""Reads about definitions."""

from django.db.models import Q, QuerySet

from ticketflower.accounts.models import User
from ticketflower.definitions.models import DefinitionStatus, TicketDefinition


def submittable_ticket_types(user: User) -> QuerySet[TicketDefinition]:
    """Active ticket types of active workflows that `user` may submit.

    A ticket type with no allowed roles is open to everybody in the company; otherwise the
    user must hold one of its company roles.
    """
    roles = user.company_roles.values("pk")
    return (
        TicketDefinition.objects.filter(
            status=DefinitionStatus.ACTIVE, workflow__status=DefinitionStatus.ACTIVE
        )
        .filter(Q(allowed_roles__isnull=True) | Q(allowed_roles__in=roles))
        .distinct()
        .order_by("title")
    )
