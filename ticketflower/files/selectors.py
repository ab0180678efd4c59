"""Reading files: which a field names, and which of them a person may see."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Q, QuerySet

from ticketflower.accounts.models import User
from ticketflower.files.models import FileAttachment, FileUpload
from ticketflower.runtime.models import TaskInstance
from ticketflower.tenancy.models import SystemRole


def file_ids(fields: Iterable[Mapping[str, Any]], values: Mapping[str, Any]) -> dict[str, int]:
    """Field name → file id, for the file fields among `values`."""
    kinds = {field["name"]: field.get("type") for field in fields}
    return {
        name: value
        for name, value in values.items()
        if kinds.get(name) == "file" and isinstance(value, int) and not isinstance(value, bool)
    }


def visible_files(user: User, pks: Iterable[int]) -> QuerySet[FileUpload]:
    """Those of the files `pks` that `user` may see and download: as far as they see the data
    that names them.

    Ticket admins: every file on a ticket. A submitter: the files of their own submissions.
    A worker: what their tasks read and answered. Everybody: their own uploads.
    """
    wanted = set(pks)
    if not user.is_active or user.company_id is None or not wanted:
        return FileUpload.unscoped.none()  # no company, no query (and no company context to scope one)
    visible = Q(uploaded_by=user)
    if user.has_system_role(SystemRole.TICKET_ADMIN):
        visible |= Q(attachments__isnull=False)
    else:
        visible |= Q(attachments__ticket__created_by=user, attachments__task__isnull=True)
        visible |= Q(attachments__task__assigned_to=user)
        visible |= Q(pk__in=_read_by_my_tasks(user, wanted))
    return FileUpload.objects.filter(visible, pk__in=wanted).distinct()


def visible_file(user: User, pk: int) -> FileUpload | None:
    """The file if `user` may download it, else None (alike for missing, another company's, or hidden)."""
    return visible_files(user, [pk]).first()


def _read_by_my_tasks(user: User, pks: set[int]) -> set[int]:
    """Which of `pks` the input of a task assigned to `user` names (in one of its file fields)."""
    tickets = FileAttachment.objects.filter(file_id__in=pks).values("ticket_id")
    tasks = (
        TaskInstance.objects.filter(assigned_to=user, workflow_instance__ticket__in=tickets)
        .select_related("workflow_instance__release")
        .only("input_data", "workflow_instance__release__id", "workflow_instance__release__company_id")
    )
    found: set[int] = set()
    for task in tasks:
        fields = task.workflow_instance.release.frozen_bundle()["workflow"].get("fields") or []
        found |= set(file_ids(fields, task.input_data).values()) & pks
    return found
