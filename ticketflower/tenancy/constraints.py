"""Company references the database itself enforces.

The scoped managers and `guard_company_write` keep Python from writing a row that points at
another company's row. These constraints make the same promise in PostgreSQL, where raw SQL,
`QuerySet.update()` with an expression, a migration or a bug in a guard cannot get around it:

    FOREIGN KEY (company_id, workflow_id) REFERENCES definitions_workflowdefinition (company_id, id)

The target needs a unique `(company_id, id)` (`company_key()` declares it). With
`shared=("workflow",)` a constraint ties the referenced row to the same parent instead, e.g.
a transition's tasks to the transition's own workflow (`parent_key()` on the target).

`checks.company_references` fails `manage.py check` (and so the test suite) for a company-owned
foreign key without its constraint, so a new one cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.backends.ddl_references import Columns, Statement, Table
from django.db.utils import DEFAULT_DB_ALIAS


def company_key(prefix: str) -> models.UniqueConstraint:
    """The unique `(company, id)` that `SameCompany` constraints of other tables point at."""
    return models.UniqueConstraint(fields=["company", "id"], name=f"{prefix}_company_key")


def parent_key(prefix: str, parent: str) -> models.UniqueConstraint:
    """A unique `(parent, id)`, for rows that must point at a child of their own parent."""
    return models.UniqueConstraint(fields=[parent, "id"], name=f"{prefix}_{parent}_key")


class SameCompany(models.BaseConstraint):
    """`field` may only point at a row with the same `shared` columns (by default: the company).

    Deferred to the end of the transaction like Django's own foreign keys, so Python-side
    `on_delete` handling (SET_NULL, CASCADE) runs first. A NULL in any column skips the check
    (MATCH SIMPLE), so optional references stay optional.
    """

    def __init__(self, *, field: str, name: str, shared: Sequence[str] = ("company",)) -> None:
        super().__init__(name=name)
        self.field = field
        self.shared = tuple(shared)

    # --- SQL ---------------------------------------------------------------------------

    def _statement(self, model: Any, schema_editor: Any) -> Statement:
        field = model._meta.get_field(self.field)
        target: Any = field.related_model
        quote = schema_editor.quote_name
        columns = [model._meta.get_field(name).column for name in self.shared] + [field.column]
        target_columns = [target._meta.get_field(name).column for name in self.shared] + [
            target._meta.pk.column
        ]
        return Statement(
            "ALTER TABLE %(table)s ADD CONSTRAINT %(name)s FOREIGN KEY (%(columns)s) "
            "REFERENCES %(to_table)s (%(to_columns)s) DEFERRABLE INITIALLY DEFERRED",
            table=Table(model._meta.db_table, quote),
            name=quote(self.name),
            columns=Columns(model._meta.db_table, columns, quote),
            to_table=Table(target._meta.db_table, quote),
            to_columns=Columns(target._meta.db_table, target_columns, quote),
        )

    # Statement, not str: Django's schema editor executes either; mypy's stubs only know str.
    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        # A new table: add the constraint once every table of the migration exists, as
        # Django does for its own foreign keys (the target may be created after this one).
        schema_editor.deferred_sql.append(self._statement(model, schema_editor))
        return None

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        return self._statement(model, schema_editor)

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        quote = schema_editor.quote_name
        return Statement(
            "ALTER TABLE %(table)s DROP CONSTRAINT %(name)s",
            table=Table(model._meta.db_table, quote),
            name=quote(self.name),
        )

    def validate(
        self,
        model: type[models.Model],
        instance: models.Model,
        exclude: Any = None,
        using: str = DEFAULT_DB_ALIAS,
    ) -> None:
        """Nothing to do in Python: `guard_company_write` checks the same on every save."""

    # --- checks and migrations -------------------------------------------------------------

    def check(self, model: type[models.Model], connection: Any) -> list[checks.CheckMessage]:
        try:
            field = model._meta.get_field(self.field)
        except FieldDoesNotExist:
            return [checks.Error(f"{self.name}: no field {self.field!r}.", obj=model, id="tenancy.E002")]
        if not (field.many_to_one or field.one_to_one):
            return [
                checks.Error(f"{self.name}: {self.field} is not a foreign key.", obj=model, id="tenancy.E002")
            ]
        target: Any = field.related_model
        wanted = {*self.shared, "id"}
        has_key = any(
            isinstance(c, models.UniqueConstraint) and c.condition is None and set(c.fields) == wanted
            for c in target._meta.constraints
        )
        if not has_key:
            return [
                checks.Error(
                    f"{self.name}: {target._meta.label} needs a unique constraint on {sorted(wanted)}.",
                    hint="Add company_key()/parent_key() to its Meta.constraints.",
                    obj=model,
                    id="tenancy.E003",
                )
            ]
        return []

    def deconstruct(self) -> Any:
        path, args, kwargs = super().deconstruct()
        kwargs["field"] = self.field
        if self.shared != ("company",):
            kwargs["shared"] = self.shared
        return path, args, kwargs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SameCompany):
            return NotImplemented
        return (self.name, self.field, self.shared) == (other.name, other.field, other.shared)

    def __hash__(self) -> int:
        return hash((self.name, self.field, self.shared))

    def __repr__(self) -> str:
        return f"<SameCompany {self.name}: {self.field} shares {', '.join(self.shared)}>"


def same_company(prefix: str, *fields: str) -> list[SameCompany]:
    """One `SameCompany` per foreign key, named `<prefix>_<field>_same_company`."""
    return [SameCompany(field=name, name=f"{prefix}_{name}_same_company") for name in fields]


def company_foreign_keys(model: Any) -> list[Any]:
    """The foreign keys of a company-owned `model` that point at company-owned rows."""
    if not owner_company_field(model) or model._meta.proxy:
        return []
    return [
        field
        for field in model._meta.concrete_fields
        if (field.many_to_one or field.one_to_one)
        and field.name != "company"
        and owner_company_field(field.related_model)
    ]


def owner_company_field(model: Any) -> bool:
    """Whether rows of `model` belong to a company (they have a `company` foreign key)."""
    meta = getattr(model, "_meta", None)
    return meta is not None and any(f.name == "company" and f.is_relation for f in meta.concrete_fields)


def covered(model: Any, field: Any) -> bool:
    return any(
        isinstance(c, SameCompany) and c.field == field.name and "company" in c.shared
        for c in model._meta.constraints
    )
