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


# --- tickets and tasks ----------------------------------------------------------------------------


class TicketSubmitSerializer(serializers.Serializer[Any]):
    ticket_type = serializers.IntegerField(help_text="A ticket type's `id` from `GET /api/v1/ticket-types/`.")
    # Shadows Serializer.data for the type checker only (DRF moves declared fields off the class).
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="The fields the ticket type asks for (see its `schema`)."
    )


class TaskSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    key = serializers.CharField(
        source="task_key", read_only=True, help_text="The task's key in its workflow."
    )
    title = serializers.CharField(read_only=True)
    type = serializers.CharField(source="task_type", read_only=True)
    status = serializers.CharField(read_only=True)
    assigned_to = serializers.SerializerMethodField(help_text="The worker's e-mail address, or null.")
    ticket = serializers.IntegerField(source="workflow_instance.ticket.pk", read_only=True)
    input = serializers.JSONField(source="input_data", read_only=True)
    output = serializers.JSONField(source="output_data", read_only=True)
    error = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    completed_at = serializers.DateTimeField(read_only=True)

    def get_assigned_to(self, task: Any) -> str | None:
        return task.assigned_to.email if task.assigned_to_id else None


class TicketTaskSerializer(TaskSerializer):
    """A task as part of its ticket (the ticket id is the parent's)."""

    ticket = None  # type: ignore[assignment]
    input = None  # type: ignore[assignment]
    output = None  # type: ignore[assignment]


class EventSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(source="created_at", read_only=True)
    kind = serializers.CharField(read_only=True)
    by = serializers.CharField(read_only=True, help_text="A person's name, or TicketFlower for the engine.")
    task = serializers.IntegerField(source="task_id", read_only=True, allow_null=True)
    message = serializers.CharField(read_only=True)
    details = serializers.JSONField(read_only=True, help_text="Only for ticket admins (empty otherwise).")


class TicketSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    ticket_type = serializers.CharField(source="ticket_type.title", read_only=True)
    status = serializers.CharField(source="workflow_instance.status", read_only=True)
    submitted_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(source="workflow_instance.updated_at", read_only=True)

    def get_submitted_by(self, ticket: Any) -> str | None:
        return ticket.created_by.email if ticket.created_by_id else None


class TicketSerializer(TicketSummarySerializer):
    """A ticket with the workflow's data, its tasks and its history."""

    error = serializers.CharField(source="workflow_instance.error", read_only=True)
    data = serializers.JSONField(source="workflow_instance.data", read_only=True)  # type: ignore[assignment]
    tasks = TicketTaskSerializer(many=True, read_only=True, source="task_list")
    events = EventSerializer(many=True, read_only=True, source="event_list")


class TaskOutputSerializer(serializers.Serializer[Any]):
    output = serializers.DictField(help_text="The task's output fields (see its workflow's fields).")


class CallbackSerializer(serializers.Serializer[Any]):
    """Any JSON: it is `response` in the task's output transform."""
