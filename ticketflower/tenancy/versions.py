"""Version history (django-reversion) kept per company."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import reversion
from django.db.models import QuerySet
from reversion.models import Version

from ticketflower.tenancy.context import current_company
from ticketflower.tenancy.models import CompanyRevision


@contextmanager
def company_revision(*, user: Any = None, comment: str = "") -> Iterator[None]:
    """Record the writes inside the block as one revision of the current company."""
    company = current_company()
    with reversion.create_revision():
        reversion.set_user(user)
        reversion.set_comment(comment)
        reversion.add_meta(CompanyRevision, company=company)
        yield


def company_versions() -> QuerySet[Version]:
    """Versions recorded in the current company's revisions, and no others."""
    versions: QuerySet[Version] = Version.objects.filter(
        revision__company_revision__company=current_company()
    )
    return versions
