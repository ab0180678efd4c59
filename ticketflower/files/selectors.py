"""Reading files: which of them a person may see."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from ticketflower.accounts.models import User
from ticketflower.files.models import FileUpload
from ticketflower.tenancy.models import SystemRole


def visible_files(user: User, pks: Iterable[int]) -> QuerySet[FileUpload]:
    """Those of the files `pks` that `user` may see and download.

    One's own upload; a file on a ticket one may see: a ticket admin every ticket of the
    company, a submitter their own tickets, a worker the tickets of tasks assigned to them.
    """
    if not user.is_active or user.company_id is None:
        return FileUpload.unscoped.none()  # no company, no query (and no company context to scope one)
    visible = Q(uploaded_by=user)
    if user.has_system_role(SystemRole.TICKET_ADMIN):
        visible |= Q(attachments__isnull=False)
    else:
        visible |= Q(attachments__ticket__created_by=user)
        visible |= Q(attachments__ticket__workflow_instance__tasks__assigned_to=user)
    return FileUpload.objects.filter(visible, pk__in=set(pks)).distinct()


def visible_file(user: User, pk: int) -> FileUpload | None:
    """The file if `user` may download it, else None (alike for missing, another company's, or hidden)."""
    return visible_files(user, [pk]).first()
