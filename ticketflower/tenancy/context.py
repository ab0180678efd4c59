"""The company context: which company the code running now acts for.

A request gets it from the logged-in user (`CompanyContextMiddleware`); a background job
gets it from the company the job belongs to (`with company_context(company): ...`). It is a
context variable, so threads and asyncio tasks each see their own.

Company-scoped managers read it when a query is *compiled*, not when a queryset is built,
so a queryset made at import time or cached on a form still answers for the company of the
request that evaluates it — and raises `NoCompanyContext` where there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ticketflower.accounts.models import User
    from ticketflower.tenancy.models import Company


class NoCompanyContext(RuntimeError):
    """A company-scoped query ran with no company context: a bug, never a user error."""


class CrossCompanyWrite(RuntimeError):
    """Code tried to save a row of one company while acting for another."""


_current: ContextVar[Company | None] = ContextVar("ticketflower_company", default=None)


@contextmanager
def company_context(company: Company) -> Iterator[Company]:
    """Act for `company` inside the block; nests and restores the previous context."""
    if company is None or company.pk is None:
        raise ValueError("company_context needs a saved Company.")
    token = _current.set(company)
    try:
        yield company
    finally:
        _current.reset(token)


@contextmanager
def outside_any_company() -> Iterator[None]:
    """Act for no company inside the block, whatever was set before; restores it after.

    For code that must not inherit a context it did not establish itself — an API view runs
    with its token's company or none, never the browser session's (see ticketflower.api.views).
    """
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def current_company() -> Company:
    company = _current.get()
    if company is None:
        raise NoCompanyContext(
            "This query is scoped to a company, and no company context is set. Requests get it "
            "from the logged-in user; jobs and commands must use tenancy.company_context()."
        )
    return company


def current_company_or_none() -> Company | None:
    return _current.get()


@contextmanager
def company_context_of(user: User) -> Iterator[None]:
    """Act for `user`'s company; a platform operator (no company) acts for none."""
    if user.company is None:
        yield
        return
    with company_context(user.company):
        yield


@contextmanager
def acting_as(user: User) -> Iterator[Company]:
    """Act for `user`'s company: enter its context, or confirm the one already set is theirs.

    Services wrap their work in this so they behave the same from a request, a job or a test.
    """
    company = user.company
    if company is None:
        raise NoCompanyContext(f"{user} belongs to no company.")
    acting_for = _current.get()
    if acting_for is not None and acting_for.pk != company.pk:
        raise CrossCompanyWrite(f"{user} is not of company {acting_for.pk}.")
    with company_context(company):
        yield company
