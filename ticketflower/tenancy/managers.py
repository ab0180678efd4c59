"""Managers that confine every query to the current company, and fail closed without one."""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

from ticketflower.tenancy.context import current_company

M = TypeVar("M", bound=models.Model)


class CurrentCompanyId(models.Expression):
    """The current company's id, read when the SQL is compiled.

    Reading late means a queryset built at import time (a form field's choices) or outside a
    request still filters by the company of whoever evaluates it, and raises
    `NoCompanyContext` when nobody has set one — for fetches, counts, updates, deletes and
    subqueries alike, because they all compile.
    """

    output_field = models.BigIntegerField()

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, tuple[int, ...]]:
        return "%s", (current_company().pk,)


class CompanyScopedManager(models.Manager[M]):
    """Default manager of company-owned models: only the current company's rows.

    `company_lookup` names the path to the owning company's id (`company` for most models,
    `pk` for Company itself).
    """

    def __init__(self, company_lookup: str = "company") -> None:
        super().__init__()
        self.company_lookup = company_lookup

    def get_queryset(self) -> models.QuerySet[M]:
        return super().get_queryset().filter(**{self.company_lookup: CurrentCompanyId()})
