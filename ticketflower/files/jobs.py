"""Housekeeping of files: uploads no ticket refers to are removed after FILE_ORPHAN_HOURS."""

import contextlib
import logging

from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from ticketflower.files import services
from ticketflower.files.models import FileUpload
from ticketflower.runtime.jobs import RETRY, company_job

logger = logging.getLogger(__name__)


@app.task(name="files.remove_orphans", retry=RETRY)
@company_job
def remove_orphans() -> None:
    removed = services.orphans_remove()
    if removed:
        logger.info("Removed %d orphan uploads.", removed)


@app.periodic(cron="17 * * * *")
@app.task(name="files.remove_orphans_everywhere", queueing_lock="files.remove_orphans_everywhere")
def remove_orphans_everywhere(timestamp: int) -> None:
    """Once an hour, a pass for each company that has unattached uploads."""
    # Unscoped on purpose: finds which companies to act for; each pass runs in its own.
    companies = FileUpload.unscoped.filter(attachments__isnull=True).values_list("company_id", flat=True)
    for company_id in set(companies):
        # AlreadyEnqueued: the last pass for that company has not run yet.
        with contextlib.suppress(AlreadyEnqueued):
            remove_orphans.configure(queueing_lock=f"files.remove_orphans.{company_id}").defer(
                company_id=company_id
            )
