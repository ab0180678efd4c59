"""Housekeeping of compiled layouts: modules no release runs (previews, drafts) go after a week."""

import logging
from datetime import timedelta

from django.utils import timezone
from procrastinate.contrib.django import app

from ticketflower.layouts import services

logger = logging.getLogger(__name__)


@app.periodic(cron="41 3 * * *")
@app.task(name="layouts.remove_unused", queueing_lock="layouts.remove_unused")
def remove_unused(timestamp: int) -> None:
    removed = services.unused_layouts_remove(older_than=timezone.now() - timedelta(days=7))
    if removed:
        logger.info("Removed %d compiled layouts no release runs.", removed)
