"""Version history (django-reversion) kept per company.

Reverting and recovering write rows back with `save_base(raw=True)` and delete with the
collector: they bypass `guard_company_write` and the scoped managers. They are safe only
because of the invariant `revision_is_own` checks before any of them runs — every row a
revision would restore belongs to the company acting — and because PostgreSQL's
SameCompany constraints refuse a restored row that points at another company's row.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import reversion
from django.db.models import QuerySet
from reversion.models import Revision, Version

from ticketflower.tenancy.context import CrossCompanyWrite, current_company
from ticketflower.tenancy.models import CompanyRevision

_open_for: ContextVar[int | None] = ContextVar("ticketflower_company_revision", default=None)


@contextmanager
def company_revision(*, user: Any = None, comment: str = "") -> Iterator[None]:
    """Record the writes inside the block as one revision of the current company.

    Nested blocks join the outer revision (a service called from an admin view adds to the
    revision of the request), so a change is always exactly one revision.
    """
    company = current_company()
    open_for = _open_for.get()
    if open_for is not None:
        if open_for != company.pk:
            raise CrossCompanyWrite("A revision of one company cannot record another company's writes.")
        if comment:
            reversion.set_comment(comment)
        yield
        return
    token = _open_for.set(company.pk)
    try:
        with reversion.create_revision():
            reversion.set_user(user)
            reversion.set_comment(comment)
            reversion.add_meta(CompanyRevision, company=company)
            yield
    finally:
        _open_for.reset(token)


def company_versions() -> QuerySet[Version]:
    """Versions recorded in the current company's revisions, and no others."""
    versions: QuerySet[Version] = Version.objects.filter(
        revision__company_revision__company=current_company()
    )
    return versions


def revision_is_own(revision: Revision) -> bool:
    """Whether the current company made `revision` and every row in it is the current company's.

    Checked before a revert or recover (see the module docstring): a revision tied to this
    company that somehow holds another company's row is refused whole.
    """
    company_id = current_company().pk
    if not CompanyRevision.objects.filter(revision=revision).exists():
        return False
    for version in revision.version_set.all():
        try:
            fields = json.loads(version.serialized_data)[0]["fields"]
        except (ValueError, KeyError, IndexError, TypeError):
            return False
        if fields.get("company") != company_id:
            return False
    return True
