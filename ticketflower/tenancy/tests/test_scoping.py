import pickle
import threading

import pytest
from django.apps import apps
from django.db import models, transaction
from django.http import Http404

from conftest import Tenant
from tests.factories import make_company_role
from ticketflower.accounts.models import User
from ticketflower.tenancy.access import get_owned_or_404
from ticketflower.tenancy.context import (
    CrossCompanyWrite,
    NoCompanyContext,
    acting_as,
    company_context,
    current_company_or_none,
)
from ticketflower.tenancy.managers import CompanyScopedManager
from ticketflower.tenancy.models import Company, CompanyRole, CompanyRoleMembership, SystemRoleAssignment

pytestmark = pytest.mark.django_db


def test_query_without_company_context_raises(tenant_a: Tenant) -> None:
    with pytest.raises(NoCompanyContext):
        list(CompanyRole.objects.all())
    with pytest.raises(NoCompanyContext):
        CompanyRole.objects.count()
    with pytest.raises(NoCompanyContext):
        CompanyRole.objects.filter(name=tenant_a.role.name).exists()
    with pytest.raises(NoCompanyContext):
        User.objects.get(pk=tenant_a.admin.pk)
    with pytest.raises(NoCompanyContext):
        Company.objects.first()


def test_writes_without_company_context_raise_and_change_nothing(tenant_a: Tenant) -> None:
    # Django rolls the failed write's transaction back; a savepoint keeps the test's own open.
    with pytest.raises(NoCompanyContext), transaction.atomic():
        CompanyRole.objects.update(name="renamed")
    with pytest.raises(NoCompanyContext), transaction.atomic():
        CompanyRole.objects.all().delete()
    assert CompanyRole.unscoped.get(pk=tenant_a.role.pk).name == "Alpha staff"


def test_subquery_without_company_context_raises(tenant_a: Tenant) -> None:
    roles = CompanyRole.objects.all()
    with pytest.raises(NoCompanyContext):
        list(SystemRoleAssignment.unscoped.filter(user__company_roles__in=roles))


def test_queryset_built_without_context_answers_for_whoever_evaluates_it(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    # Like a form field's choices built at import time: one queryset, evaluated per request.
    roles = CompanyRole.objects.order_by("pk")
    with company_context(tenant_a.company):
        assert list(roles.all()) == [tenant_a.role]
    with company_context(tenant_b.company):
        assert list(roles.all()) == [tenant_b.role]


def test_identical_role_names_in_two_companies_stay_separate(tenant_a: Tenant, tenant_b: Tenant) -> None:
    staff_a = make_company_role(tenant_a.company, "Staff")
    make_company_role(tenant_b.company, "Staff")
    with company_context(tenant_a.company):
        assert list(CompanyRole.objects.filter(name="Staff")) == [staff_a]
        assert set(User.objects.all()) == set(tenant_a.users)
        assert list(Company.objects.all()) == [tenant_a.company]
        assert set(tenant_a.role.users.all()) == {tenant_a.member}


def test_subquery_is_scoped_to_current_company(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with company_context(tenant_a.company):
        staff_ids = CompanyRole.objects.values("pk")
        assert set(User.unscoped.filter(company_roles__in=staff_ids)) == {tenant_a.member}


def test_update_and_delete_touch_only_current_company(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with company_context(tenant_a.company):
        assert CompanyRole.objects.update(description="changed") == 1
        CompanyRole.objects.filter(name="Alpha staff").delete()
    assert CompanyRole.unscoped.get(pk=tenant_b.role.pk).description == "Everybody at Bravo Bakery"


def test_saving_a_row_of_another_company_raises(tenant_a: Tenant, tenant_b: Tenant) -> None:
    role_b = CompanyRole.unscoped.get(pk=tenant_b.role.pk)
    role_b.name = "Hijacked"
    with company_context(tenant_a.company), pytest.raises(CrossCompanyWrite):
        role_b.save()
    with company_context(tenant_a.company), pytest.raises(CrossCompanyWrite):
        CompanyRole(company=tenant_b.company, name="Planted").save()
    assert CompanyRole.unscoped.get(pk=tenant_b.role.pk).name == "Bravo staff"


def test_saving_a_user_of_another_company_raises(tenant_a: Tenant, tenant_b: Tenant) -> None:
    other = User.unscoped.get(pk=tenant_b.member.pk)
    other.first_name = "Mallory"
    with company_context(tenant_a.company), pytest.raises(CrossCompanyWrite):
        other.save()


def test_new_row_takes_the_current_company(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company):
        role = CompanyRole.objects.create(name="Drivers")
    assert role.company_id == tenant_a.company.pk


def test_unscoped_manager_is_the_named_escape_hatch(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert CompanyRole.unscoped.filter(name__endswith="staff").count() == 2


def test_get_owned_or_404_answers_alike_for_missing_and_foreign_rows(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with company_context(tenant_a.company):
        assert get_owned_or_404(CompanyRole, pk=tenant_a.role.pk) == tenant_a.role
        with pytest.raises(Http404) as foreign:
            get_owned_or_404(CompanyRole, pk=tenant_b.role.pk)
        with pytest.raises(Http404) as missing:
            get_owned_or_404(CompanyRole, pk=10**9)
        with pytest.raises(Http404):
            get_owned_or_404(CompanyRole, pk="not-a-number")
    assert str(foreign.value) == str(missing.value)


def test_context_nests_and_restores(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert current_company_or_none() is None
    with company_context(tenant_a.company):
        with company_context(tenant_b.company):
            assert current_company_or_none() == tenant_b.company
        assert current_company_or_none() == tenant_a.company
    assert current_company_or_none() is None


def test_context_is_per_thread(tenant_a: Tenant) -> None:
    seen: list[object] = []
    with company_context(tenant_a.company):
        thread = threading.Thread(target=lambda: seen.append(current_company_or_none()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_acting_as_refuses_to_mix_companies(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with company_context(tenant_a.company), pytest.raises(CrossCompanyWrite), acting_as(tenant_b.admin):
        pass
    with acting_as(tenant_b.admin) as company:
        assert company == tenant_b.company


def test_every_model_with_a_company_scopes_its_default_manager() -> None:
    """A new company-owned model that forgets the scoped manager fails here, not in production."""
    unscoped = [
        model._meta.label
        for model in apps.get_models()
        if _company_field(model) and not isinstance(model._default_manager, CompanyScopedManager)
    ]
    assert unscoped == []


def _company_field(model: type[models.Model]) -> bool:
    return (
        any(
            isinstance(field, models.ForeignKey) and field.related_model is Company
            for field in model._meta.fields
        )
        or model is Company
    )


def test_writes_without_a_company_context_raise(tenant_a: Tenant) -> None:
    with pytest.raises(NoCompanyContext):
        CompanyRole(company=tenant_a.company, name="Orphan").save()
    role = CompanyRole.unscoped.get(pk=tenant_a.role.pk)
    with pytest.raises(NoCompanyContext):
        role.delete()
    assert CompanyRole.unscoped.filter(pk=role.pk).exists()


def test_deleting_a_row_of_another_company_raises(tenant_a: Tenant, tenant_b: Tenant) -> None:
    role_b = CompanyRole.unscoped.get(pk=tenant_b.role.pk)
    with company_context(tenant_a.company), pytest.raises(CrossCompanyWrite):
        role_b.delete()
    assert CompanyRole.unscoped.filter(pk=role_b.pk).exists()


def test_bulk_create_into_another_company_raises(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with company_context(tenant_a.company), pytest.raises(CrossCompanyWrite):
        CompanyRole.objects.bulk_create([CompanyRole(company=tenant_b.company, name="Planted")])
    assert not CompanyRole.unscoped.filter(name="Planted").exists()


def test_update_cannot_move_rows_to_another_company(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with company_context(tenant_a.company), pytest.raises(CrossCompanyWrite):
        CompanyRole.objects.update(company=tenant_b.company)


def test_a_row_cannot_point_at_another_companys_row(tenant_a: Tenant, tenant_b: Tenant) -> None:
    role_b = CompanyRole.unscoped.get(pk=tenant_b.role.pk)
    with company_context(tenant_a.company):
        with pytest.raises(CrossCompanyWrite):
            CompanyRoleMembership(user=tenant_a.member, role=role_b).save()
        with pytest.raises(CrossCompanyWrite):  # by id, not a loaded instance
            CompanyRoleMembership(user_id=tenant_a.member.pk, role_id=role_b.pk).save()
        with pytest.raises(CrossCompanyWrite), transaction.atomic():
            tenant_a.member.company_roles.add(role_b)
    assert not CompanyRoleMembership.unscoped.filter(role=role_b, user=tenant_a.member).exists()


def test_rows_fetched_for_one_company_are_not_handed_to_another(tenant_a: Tenant, tenant_b: Tenant) -> None:
    roles = CompanyRole.objects.all()
    with company_context(tenant_a.company):
        assert list(roles) == [tenant_a.role]
    with company_context(tenant_b.company), pytest.raises(CrossCompanyWrite):
        list(roles)
    with pytest.raises(NoCompanyContext):
        list(roles)


def test_scoped_querysets_are_not_pickled(tenant_a: Tenant) -> None:
    with company_context(tenant_a.company), pytest.raises(TypeError):
        pickle.dumps(CompanyRole.objects.all())


def test_get_owned_or_404_refuses_a_model_that_is_not_scoped() -> None:
    from django.contrib.auth.models import Group

    with pytest.raises(TypeError):
        get_owned_or_404(Group, pk=1)


def test_natural_key_lookups_inside_a_company_stay_in_it(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with company_context(tenant_a.company):
        assert User.objects.get_by_natural_key(tenant_a.member.email) == tenant_a.member
        with pytest.raises(User.DoesNotExist):
            User.objects.get_by_natural_key(tenant_b.member.email)
