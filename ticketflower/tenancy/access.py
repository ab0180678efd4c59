"""Look-ups that answer "not found" alike for a missing row and another company's row.

Like Zulip's `access_*_by_id`: a caller never learns that an id exists elsewhere.
"""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.http import Http404

from ticketflower.tenancy.managers import CompanyScopedManager


def get_owned_or_404[M: models.Model](model: type[M], **lookup: Any) -> M:
    """The current company's row matching `lookup`, or Http404."""
    if not isinstance(model._default_manager, CompanyScopedManager):
        raise TypeError(f"{model._meta.label} is not company-scoped.")
    try:
        found: M = model._default_manager.get(**lookup)
        return found
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No {model._meta.verbose_name} matches the given query.") from exc
