"""Writing files: uploads (checked, stored, recorded), attaching them to tickets, removing orphans."""

import functools
import hashlib
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ticketflower.accounts.models import User
from ticketflower.core.uploads import size_text
from ticketflower.files.models import FileAttachment, FileUpload
from ticketflower.files.sniffing import sniff
from ticketflower.runtime.models import TaskInstance, TicketInstance
from ticketflower.tenancy.context import acting_as


class FileRefused(ValueError):
    """An upload that is not kept; the message says why, for the person who sent it."""


def file_upload(*, user: User, uploaded: UploadedFile[Any]) -> FileUpload:
    """Check, store and record one upload of `user`'s company. FileRefused when it is not kept."""
    if not user.is_active or user.company_id is None:
        raise FileRefused("Only people of a company may upload files.")
    size = uploaded.size or 0
    if size > settings.FILE_UPLOAD_MAX_BYTES:
        raise FileRefused(f"The file is too large: at most {size_text(settings.FILE_UPLOAD_MAX_BYTES)}.")
    if size == 0:
        raise FileRefused("The file is empty.")
    name = safe_name(uploaded.name or "file")
    content_type = sniff(uploaded.file, name) if uploaded.file is not None else None
    if content_type is None:
        raise FileRefused(
            "This kind of file is not accepted: send a PDF, an image (PNG, JPEG, GIF, WebP), "
            "an Office document or plain text."
        )
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    with acting_as(user):
        # Not guessable, and no part of it comes from the person: no path tricks.
        key = default_storage.save(f"uploads/{user.company_id}/{uuid.uuid4().hex}", uploaded)
        try:
            with transaction.atomic():
                record: FileUpload = FileUpload.objects.create(
                    filename=name,
                    ext_key=key,
                    file_type=content_type,
                    size=size,
                    sha256=digest.hexdigest(),
                    uploaded_by=user,
                )
                return record
        except BaseException:
            default_storage.delete(key)  # nothing recorded: nothing kept
            raise


def safe_name(name: str) -> str:
    """A file name to show and to send back: no directories, no control characters, not too long."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".") or "file"
    if len(name) > 200:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[:190] + dot + suffix[:9]) if dot and len(suffix) < 10 else name[:200]
    return name


def files_check(
    *, actor: User, ticket: TicketInstance | None, ids: Mapping[str, int]
) -> dict[str, list[str]]:
    """Field errors for files `actor` may not hand on: only their own uploads, or files already
    on this ticket. Without this, naming any id would attach someone else's file.

    Call inside the transaction that attaches them: the files are locked until it commits,
    so the orphan job cannot remove one in between.
    """
    if not ids:
        return {}
    allowed = Q(uploaded_by=actor)
    if ticket is not None:
        allowed |= Q(attachments__ticket=ticket)
    found = FileUpload.objects.select_for_update(of=("self",)).filter(allowed, pk__in=set(ids.values()))
    usable = set(found.values_list("pk", flat=True))
    return {name: ["No such file: upload it again."] for name, pk in ids.items() if pk not in usable}


def files_attach(*, ticket: TicketInstance, ids: Mapping[str, int], task: TaskInstance | None = None) -> None:
    """Record the files a submission (`task` None) or a task's answer refers to.

    A task's answer replaces its earlier draft's: a file taken out of the draft is no
    longer that task's.
    """
    wanted = set(ids.values())
    if task is not None:
        FileAttachment.objects.filter(ticket=ticket, task=task).exclude(file_id__in=wanted).delete()
    if wanted:
        FileAttachment.objects.bulk_create(
            [FileAttachment(file_id=pk, ticket=ticket, task=task) for pk in wanted], ignore_conflicts=True
        )


def orphans_remove(*, older_than: timedelta | None = None) -> int:
    """Delete uploads no ticket refers to, older than FILE_ORPHAN_HOURS. Runs in a company's context.

    Each file is taken with SKIP LOCKED and checked again under its lock: one being attached
    right now is left for the next pass.
    """
    cutoff = timezone.now() - (older_than or timedelta(hours=settings.FILE_ORPHAN_HOURS))
    # Attached to no ticket, and no assistant conversation keeps it as a document.
    documents = apps.get_model("assistant", "Document").objects.filter(file=OuterRef("pk"))
    unattached = Q(~Exists(FileAttachment.objects.filter(file=OuterRef("pk"))), ~Exists(documents))
    candidates = list(
        FileUpload.objects.filter(unattached, uploaded_at__lt=cutoff).values_list("pk", flat=True)[:1000]
    )
    removed = 0
    for pk in candidates:
        with transaction.atomic():
            upload = FileUpload.objects.select_for_update(skip_locked=True).filter(unattached, pk=pk).first()
            if upload is None:
                continue
            key = upload.ext_key
            upload.delete()
            # The bytes go once the row is gone for good.
            transaction.on_commit(functools.partial(default_storage.delete, key))
        removed += 1
    return removed
