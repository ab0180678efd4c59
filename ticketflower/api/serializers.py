"""What the API sends and accepts. Serializers shape data; services decide and write."""

from typing import Any

from rest_framework import serializers

from ticketflower.definitions.fields import ticket_type_schema
from ticketflower.definitions.models import ReleaseTicketType


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of every error response."""

    # Made by ticketflower/api/errors.py; this class only describes it in the schema.

    detail = serializers.CharField(help_text="What went wrong, in a sentence.")
    # Shadows Serializer.errors for the type checker only: DRF moves declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field (dotted paths for nested input); `{}` when no field is to blame.",
    )


class TicketTypeSerializer(serializers.Serializer[ReleaseTicketType]):
    """A ticket type you may submit, as the latest release of its workflow publishes it."""

    # Reads release.bundle: load it with definitions.selectors.load_release_bundles (one query).

    id = serializers.IntegerField(read_only=True, help_text="Send it as `ticket_type` to submit a ticket.")
    title = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    workflow = serializers.CharField(source="release.workflow.title", read_only=True)
    schema = serializers.SerializerMethodField(
        help_text="JSON Schema (draft 2020-12) of the `data` a ticket of this type is submitted with."
    )

    def get_schema(self, ticket_type: ReleaseTicketType) -> dict[str, Any]:
        return ticket_type_schema(
            ticket_type.spec, ticket_type.release.bundle["workflow"].get("fields") or []
        )
