"""Managers that confine every query to the current company, and fail closed without one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

from ticketflower.tenancy.constraints import owner_company_field
from ticketflower.tenancy.context import CrossCompanyWrite, current_company

M = TypeVar("M", bound=models.Model)


class CurrentCompanyId(models.Expression):
    """The current company's id, read when the SQL is compiled.

    Reading late means a queryset built at import time (a form field's choices) or outside a
    request filters by the company of whoever *evaluates* it, and raises `NoCompanyContext`
    when nobody has set one — for fetches, counts, updates, deletes and subqueries alike,
    because they all compile. Rows already fetched are another matter: see
    `CompanyScopedQuerySet`.
    """

    output_field = models.BigIntegerField()

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, tuple[int, ...]]:
        return "%s", (current_company().pk,)


class CompanyScopedQuerySet(models.QuerySet[M]):
    """A queryset whose cached rows and bulk writes stay with one company.

    - Rows fetched for one company are never handed out again while acting for another
      (a queryset kept on a module or a form across requests raises instead).
    - A scoped queryset is not pickled: unpickled elsewhere it would carry its rows along.
    - bulk_create/bulk_update check every row's company like save() does, and update()
      may not move rows to another company.
    """

    _fetched_for: int | None = None

    def _fetch_all(self) -> None:
        company_id = current_company().pk
        if self._result_cache is not None and self._fetched_for not in (None, company_id):
            raise CrossCompanyWrite(
                f"Rows of {self.model._meta.label} fetched for company {self._fetched_for} "
                f"reused while acting for company {company_id}."
            )
        super()._fetch_all()
        self._fetched_for = company_id

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("Company-scoped querysets are not pickled; pickle the rows you need instead.")

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        from ticketflower.tenancy.models import guard_company_write

        objs = list(objs)
        for obj in objs:
            guard_company_write(obj)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Iterable[M], fields: Any, *args: Any, **kwargs: Any) -> int:
        from ticketflower.tenancy.models import guard_company_write

        objs = list(objs)
        for obj in objs:
            guard_company_write(obj)
        return super().bulk_update(objs, fields, *args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        if "company" in kwargs or "company_id" in kwargs:
            raise CrossCompanyWrite("Rows are never moved to another company.")
        self._guard_references(kwargs)
        return super().update(**kwargs)

    def _guard_references(self, values: dict[str, Any]) -> None:
        """A foreign key set by update() must point at the current company's row.

        Checked here for a clear error; an expression (F(), a subquery) cannot be checked
        in Python, and the database's SameCompany constraints refuse it at commit.
        """
        from ticketflower.tenancy.models import reference_is_own

        fields = {f.name: f for f in self.model._meta.concrete_fields}
        fields |= {f.attname: f for f in self.model._meta.concrete_fields}
        for name, value in values.items():
            field = fields.get(name)
            if field is None or not (field.many_to_one or field.one_to_one):
                continue
            if isinstance(value, models.expressions.Combinable) or not owner_company_field(
                field.related_model
            ):
                continue
            if not reference_is_own(field, value, current_company().pk):
                target = field.related_model._meta.label  # type: ignore[union-attr]
                raise CrossCompanyWrite(f"update() would point {name} at a {target} of another company.")


class CompanyScopedManager(models.Manager[M]):
    """Default manager of company-owned models: only the current company's rows.

    `company_lookup` names the path to the owning company's id (`company` for most models,
    `pk` for Company itself).
    """

    queryset_class: type[CompanyScopedQuerySet[Any]] = CompanyScopedQuerySet

    def __init__(self, company_lookup: str = "company") -> None:
        super().__init__()
        self.company_lookup = company_lookup

    def get_queryset(self) -> models.QuerySet[M]:
        queryset: CompanyScopedQuerySet[M] = self.queryset_class(self.model, using=self._db)
        return queryset.filter(**{self.company_lookup: CurrentCompanyId()})
