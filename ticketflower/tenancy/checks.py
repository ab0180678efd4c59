"""System checks that keep the database-level company guarantee complete."""

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.core import checks

from ticketflower.tenancy.constraints import company_foreign_keys, covered, owner_company_field


@checks.register(checks.Tags.models, checks.Tags.database)
def company_references(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return company_reference_errors(apps.get_models())


def company_reference_errors(models: Iterable[Any]) -> list[checks.CheckMessage]:
    """Every reference between company-owned rows is a `SameCompany` constraint in PostgreSQL.

    - a foreign key from a company-owned model to a company-owned model needs one;
    - a many-to-many between company-owned models needs a `through` model that has a
      `company` (an auto-created link table has none, so nothing could enforce it).
    """
    errors: list[checks.CheckMessage] = []
    for model in models:
        for field in company_foreign_keys(model):
            if not covered(model, field):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} points at company-owned "
                        f"{field.related_model._meta.label} without a SameCompany constraint.",
                        hint="Add tenancy.constraints.same_company(...) for it to Meta.constraints.",
                        obj=model,
                        id="tenancy.E001",
                    )
                )
        for m2m in model._meta.local_many_to_many:
            through: Any = m2m.remote_field.through
            if (
                owner_company_field(model)
                and owner_company_field(m2m.related_model)
                and not owner_company_field(through)
            ):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{m2m.name} links company-owned rows through a table "
                        "without a company.",
                        hint="Give it a through model derived from CompanyOwnedModel.",
                        obj=model,
                        id="tenancy.E004",
                    )
                )
    return errors
