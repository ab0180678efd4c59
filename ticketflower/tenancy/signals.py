"""Many-to-many links between company-owned rows stay inside one company."""

from typing import Any

from django.db.models.signals import m2m_changed

from ticketflower.tenancy.constraints import owner_company_field
from ticketflower.tenancy.context import CrossCompanyWrite, current_company


def refuse_cross_company_links(
    sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: set[Any] | None, **kwargs: Any
) -> None:
    if action != "pre_add" or not pk_set:
        return
    if not (owner_company_field(type(instance)) and owner_company_field(model)):
        return
    company_id = current_company().pk
    foreign = model._base_manager.filter(pk__in=pk_set).exclude(company_id=company_id).exists()
    if instance.company_id != company_id or foreign:
        raise CrossCompanyWrite(f"Refusing to link {type(instance).__name__} to rows of another company.")


def connect() -> None:
    m2m_changed.connect(refuse_cross_company_links, dispatch_uid="tenancy_refuse_cross_company_links")
