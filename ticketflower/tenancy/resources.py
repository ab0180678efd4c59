"""django-import-export for company-owned models: one resource base, closed like the admin.

- Rows are read and matched through the scoped default managers, so an import can only
  find and update the current company's rows, and foreign-key widgets only resolve names
  inside the company.
- A file never chooses a company or a primary key: `company`, `id` and `pk` are not fields,
  rows are matched by natural keys (`import_id_fields`), new rows take the current company.
- Every imported row is one revision of the company; a dry run writes nothing (the import
  runs in a transaction that is rolled back) and lists row errors first.
"""

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from import_export import resources

from ticketflower.tenancy.versions import company_revision

FORBIDDEN_FIELDS = {"id", "pk", "company"}


class TenantResource(resources.ModelResource):
    natural_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = set(self.fields)
        if fields & FORBIDDEN_FIELDS:
            raise ImproperlyConfigured(
                f"{type(self).__name__} may not have fields {fields & FORBIDDEN_FIELDS}."
            )
        if set(self.get_import_id_fields()) & FORBIDDEN_FIELDS:
            raise ImproperlyConfigured(f"{type(self).__name__} must match rows by natural keys.")

    def get_import_id_fields(self) -> list[str]:
        return list(self.natural_keys)

    def import_data(self, dataset: Any, *args: Any, **kwargs: Any) -> Any:
        # A file with one bad row writes nothing, even when its confirmation is posted directly.
        kwargs["rollback_on_validation_errors"] = True
        return super().import_data(dataset, *args, **kwargs)

    def import_row(self, row: Any, instance_loader: Any, **kwargs: Any) -> Any:
        # One revision per row: reverting one row later never reverts its neighbours.
        with company_revision(user=kwargs.get("user"), comment="Imported from a file"):
            return super().import_row(row, instance_loader, **kwargs)
