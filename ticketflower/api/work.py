"""The engine's endpoints: submit and follow tickets, work on tasks, report back from outside.

Thin like the rest: services decide (and raise), these views map their answers onto HTTP —
`DataInvalid` → 400 with the fields, `WrongState` → 409 with the reason, a row that is not
yours → 404.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from ticketflower.api.base import ApiGenericView, ApiView
from ticketflower.api.errors import error_body
from ticketflower.api.serializers import (
    CallbackSerializer,
    ErrorSerializer,
    TaskOutputSerializer,
    TaskSerializer,
    TicketSerializer,
    TicketSubmitSerializer,
    TicketSummarySerializer,
)
from ticketflower.definitions.models import ReleaseTicketType
from ticketflower.portal import display
from ticketflower.runtime import selectors, services
from ticketflower.runtime.models import EventKind, TaskInstance, TicketInstance
from ticketflower.tenancy.models import SystemRole


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This does not fit where it stands now."
    default_code = "conflict"


def _invalid(field: str, exc: services.DataInvalid) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: exc.errors})


def _ticket_page(ticket: TicketInstance, *, for_admin: bool) -> dict[str, Any]:
    """A ticket as the API shows it; a submitter sees what the portal shows (docs/portal.md)."""
    tasks = list(selectors.ticket_tasks(ticket))
    events = selectors.ticket_history(ticket)
    if not for_admin:
        # Attempts, code runs and saved drafts are left out; technical reasons (an endpoint's
        # answer, a code task's traceback) become the portal's plain sentence.
        events = [event for event in events if event.kind not in display.SUBMITTER_HIDDEN_KINDS]
        for event in events:
            event.details = {}  # attempt payloads and outputs are for ticket admins
            if event.kind == EventKind.ERROR:
                event.message = str(display.SUBMITTER_ERROR_MESSAGE)
        for task in tasks:
            if task.error:
                task.error = str(display.SUBMITTER_ERROR_MESSAGE)
        if ticket.workflow_instance is not None and ticket.workflow_instance.error:
            ticket.workflow_instance.error = str(display.SUBMITTER_ERROR_MESSAGE)
    ticket.task_list = tasks  # type: ignore[attr-defined]
    ticket.event_list = events  # type: ignore[attr-defined]
    serialized: Any = TicketSerializer(ticket)
    return dict(serialized.data)


def _tickets(user: Any, *, all_of_company: bool) -> QuerySet[TicketInstance]:
    tickets = TicketInstance.objects.select_related("ticket_type", "workflow_instance", "created_by").defer(
        "workflow_instance__data", "data"
    )
    return tickets if all_of_company else tickets.filter(created_by=user)


def _older_than(tickets: QuerySet[TicketInstance], before: str) -> QuerySet[TicketInstance]:
    """The tickets of `tickets` submitted before ticket `before` (newest first, then by id)."""
    edge = selectors.ticket_number(before)
    anchor = tickets.filter(pk=edge).values_list("created_at", flat=True).first() if edge else None
    if edge is None or anchor is None:
        raise exceptions.ValidationError({"before": ["The id of one of the tickets in this list."]})
    # `created_at <= anchor` bounds the index range; the rest settles ties within it.
    return tickets.filter(Q(created_at__lte=anchor), Q(created_at__lt=anchor) | Q(pk__lt=edge))


class TicketListView(ApiGenericView):
    """Your tickets (a ticket admin may ask for all with `?all=1`), and submitting one."""

    serializer_class = TicketSummarySerializer

    @extend_schema(
        operation_id="tickets_list",
        parameters=[
            OpenApiParameter("all", bool, description="Ticket admins: every ticket of the company."),
            OpenApiParameter(
                "before",
                int,
                description="Only tickets submitted before this one (its id): how to walk back "
                "past the first 10,000, from the last ticket of a page.",
            ),
        ],
        responses=TicketSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        everything = request.query_params.get("all") in ("1", "true")
        if everything and not self.user.has_system_role(SystemRole.TICKET_ADMIN):
            raise exceptions.PermissionDenied("Only ticket admins may list every ticket (`all=1`).")
        tickets = _tickets(self.user, all_of_company=everything)
        if "before" in request.query_params:
            tickets = _older_than(tickets, request.query_params["before"])
        page = self.paginate_queryset(tickets.order_by("-created_at", "-pk"))
        return self.get_paginated_response(TicketSummarySerializer(page, many=True).data)

    @extend_schema(
        operation_id="tickets_create",
        request=TicketSubmitSerializer,
        responses={201: TicketSerializer, 404: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request: Request) -> Response:
        given = TicketSubmitSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        ticket_type = (
            ReleaseTicketType.objects.select_related("release")
            .defer("release__bundle")
            .filter(pk=given.validated_data["ticket_type"])
            .first()
        )
        if ticket_type is None:
            raise exceptions.NotFound("No ticket type with this id that you may submit.")
        try:
            ticket = services.ticket_submit(
                ticket_type=ticket_type, submitted_by=self.user, data=given.validated_data["data"]
            )
        except PermissionDenied as exc:
            raise exceptions.NotFound("No ticket type with this id that you may submit.") from exc
        except services.DataInvalid as exc:
            raise _invalid("data", exc) from exc
        # The service's ticket comes with its type, run and submitter: no need to read them again.
        return Response(_ticket_page(ticket, for_admin=False), status=status.HTTP_201_CREATED)


class TicketDetailView(ApiView):
    """One ticket: yours, or any of your company's for a ticket admin."""

    @extend_schema(operation_id="tickets_retrieve", responses=TicketSerializer)
    def get(self, request: Request, pk: int) -> Response:
        admin = self.user.has_system_role(SystemRole.TICKET_ADMIN)
        ticket = _tickets(self.user, all_of_company=admin).get(pk=pk)  # DoesNotExist → 404
        return Response(_ticket_page(ticket, for_admin=admin))


def _task_rows(tasks: QuerySet[TaskInstance]) -> QuerySet[TaskInstance]:
    return tasks.select_related("assigned_to", "workflow_instance__ticket").defer(
        "workflow_instance__data", "workflow_instance__ticket__data"
    )


class TaskListView(ApiGenericView):
    """Your unfinished tasks, oldest first."""

    serializer_class = TaskSerializer

    @extend_schema(operation_id="tasks_list", responses=TaskSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(_task_rows(selectors.my_tasks(self.user)))
        return self.get_paginated_response(TaskSerializer(page, many=True).data)


class PoolView(ApiGenericView):
    """Tasks waiting in the pool that you may claim, oldest first."""

    serializer_class = TaskSerializer

    @extend_schema(operation_id="tasks_pool", responses=TaskSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(_task_rows(selectors.pool_tasks(self.user)))
        return self.get_paginated_response(TaskSerializer(page, many=True).data)


class _TaskActionView(ApiView):
    """POST on one task: 404 when it is not yours (or not claimable by you), 409 when it cannot be now."""

    def task(self, pk: int) -> TaskInstance:
        task: TaskInstance = selectors.my_tasks(self.user).get(pk=pk)
        return task

    def act(self, task: TaskInstance, request: Request) -> None:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        try:
            self.act(task, request)
        except services.WrongState as exc:
            raise Conflict(exc.reason) from exc
        except services.DataInvalid as exc:
            raise _invalid("output", exc) from exc
        task = _task_rows(TaskInstance.objects.all()).get(pk=task.pk)
        return Response(TaskSerializer(task).data)


_ACTION_RESPONSES = {200: TaskSerializer, 409: OpenApiResponse(ErrorSerializer)}


class TaskClaimView(_TaskActionView):
    """Take a task from the pool; of many claims exactly one wins, the others get 409."""

    def task(self, pk: int) -> TaskInstance:
        task: TaskInstance = selectors.claimable_tasks(self.user).get(pk=pk)
        return task

    @extend_schema(operation_id="tasks_claim", request=None, responses=_ACTION_RESPONSES)
    def post(self, request: Request, pk: int) -> Response:
        try:
            return super().post(request, pk)
        except PermissionDenied as exc:
            raise exceptions.NotFound() from exc

    def act(self, task: TaskInstance, request: Request) -> None:
        services.task_claim(worker=self.user, task=task)


class TaskStartView(_TaskActionView):
    @extend_schema(operation_id="tasks_start", request=None, responses=_ACTION_RESPONSES)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, task: TaskInstance, request: Request) -> None:
        services.task_start(worker=self.user, task=task)


class TaskCompleteView(_TaskActionView):
    @extend_schema(operation_id="tasks_complete", request=TaskOutputSerializer, responses=_ACTION_RESPONSES)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, task: TaskInstance, request: Request) -> None:
        given = TaskOutputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        services.task_complete(worker=self.user, task=task, output=given.validated_data["output"])


class TaskReleaseView(_TaskActionView):
    @extend_schema(operation_id="tasks_release", request=None, responses=_ACTION_RESPONSES)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, task: TaskInstance, request: Request) -> None:
        services.task_release(worker=self.user, task=task)


class CallbackView(ApiView):
    """An ASYNC task's endpoint reports back. The token in the URL is the credential.

    200 the ticket goes on; 400 the body does not give the task's output (it keeps waiting);
    404 unknown token; 409 already completed; 410 too late.
    """

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="callbacks_create",
        request=CallbackSerializer,
        responses={
            200: ErrorSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            410: ErrorSerializer,
        },
    )
    def post(self, request: Request, token: str) -> Response:
        result = services.callback_receive(token=token, body=request.data)
        return Response(error_body(result.detail, result.errors), status=result.status)
