"""Uploaded files: stored through Django's storage API, recorded per company, seen through tickets.

A file is uploaded first (a layout's file input, the plain form, the API) and referenced from
ticket or task data by its id. Submitting or completing with a file field attaches the file to
the ticket (`FileAttachment`); who may see that ticket may download it. Files never attached
are orphans, removed by a job after FILE_ORPHAN_HOURS.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ticketflower.tenancy.constraints import company_key, same_company
from ticketflower.tenancy.models import CompanyOwnedModel


class FileUpload(CompanyOwnedModel):
    filename = models.CharField(_("file name"), max_length=255)
    version = models.PositiveIntegerField(_("version"), default=1)
    ext_key = models.TextField(_("storage key"))
    file_type = models.CharField(_("file type"), max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )

    class Meta:
        # Moved here from the runtime app: same table, same constraint names.
        db_table = "runtime_fileupload"
        verbose_name = _("file")
        verbose_name_plural = _("files")
        constraints = [company_key("runtime_file"), *same_company("runtime_file", "uploaded_by")]

    def __str__(self) -> str:
        return self.filename


class FileAttachment(CompanyOwnedModel):
    """A file that a ticket's submission (task empty) or one task's answer refers to.

    Who sees a file follows who sees that part: the submission's files its submitter, a
    task's answer its worker, all of them the ticket admins (files.selectors).
    """

    file = models.ForeignKey(FileUpload, on_delete=models.CASCADE, related_name="attachments")
    ticket = models.ForeignKey("runtime.TicketInstance", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(
        "runtime.TaskInstance", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    attached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("file attachment")
        verbose_name_plural = _("file attachments")
        constraints = [
            models.UniqueConstraint(
                fields=["file", "ticket", "task"], nulls_distinct=False, name="files_attachment_once"
            ),
            *same_company("files_attachment", "file", "ticket", "task"),
        ]
