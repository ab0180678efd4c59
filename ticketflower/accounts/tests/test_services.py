import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory

from conftest import Tenant
from tests.factories import PASSWORD
from ticketflower.accounts import services
from ticketflower.accounts.models import User
from ticketflower.tenancy import services as tenancy_services
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import Company, CompanyRole, CompanyRoleMembership, SystemRole

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "tulips-in-the-rain-42"


def sign_up(**overrides: str) -> User:
    data = {
        "company_name": "Cedar Carpentry",
        "email": "Owner@Cedar.test",
        "password": GOOD_PASSWORD,
        "first_name": "Cass",
        "last_name": "Cedar",
        **overrides,
    }
    return services.company_sign_up(**data)


def test_sign_up_creates_company_and_first_user_with_every_system_role(rf: RequestFactory) -> None:
    user = sign_up()
    assert user.company is not None and user.company.name == "Cedar Carpentry"
    assert user.email == "owner@cedar.test"
    assert user.system_roles == {role.value for role in SystemRole}
    assert user.check_password(GOOD_PASSWORD)
    assert authenticate(rf.post("/"), username="OWNER@cedar.test", password=GOOD_PASSWORD) == user


def test_sign_up_with_a_taken_email_in_any_case_creates_nothing(tenant_b: Tenant) -> None:
    companies = Company.unscoped.count()
    with pytest.raises(ValidationError) as error:
        sign_up(email="ADMIN@bravo-bakery.test")
    assert error.value.message_dict == {"email": [services.EMAIL_TAKEN]}
    assert Company.unscoped.count() == companies


@pytest.mark.parametrize("password", ["short", "password123", "12345678901234", "owner@cedar.test"])
def test_sign_up_with_a_weak_password_creates_nothing(password: str) -> None:
    with pytest.raises(ValidationError) as error:
        sign_up(password=password)
    assert list(error.value.message_dict) == ["password"]
    assert not Company.unscoped.exists()
    assert not User.unscoped.exists()


def test_sign_up_with_a_blank_company_name_is_a_field_error() -> None:
    with pytest.raises(ValidationError) as error:
        sign_up(company_name="   ")
    assert list(error.value.message_dict) == ["company_name"]


def test_admin_adds_a_worker_with_roles(tenant_a: Tenant) -> None:
    worker = services.user_create(
        actor=tenant_a.admin,
        email="New.Worker@alpha.test",
        first_name="Nia",
        last_name="New",
        password=GOOD_PASSWORD,
        system_roles=[SystemRole.TASK_WORKER, SystemRole.USER],
        company_roles=[tenant_a.role],
    )
    assert worker.company == tenant_a.company
    assert worker.system_roles == {"task_worker", "user"}
    with company_context(tenant_a.company):
        assert list(worker.company_roles.all()) == [tenant_a.role]


def test_added_user_without_password_cannot_log_in_until_they_set_one(
    tenant_a: Tenant, rf: RequestFactory
) -> None:
    user = services.user_create(actor=tenant_a.admin, email="later@alpha.test", first_name="L", last_name="L")
    assert not user.has_usable_password()
    assert authenticate(rf.post("/"), username="later@alpha.test", password="") is None
    assert authenticate(rf.post("/"), username="later@alpha.test", password="!") is None


def test_only_a_company_admin_adds_users(tenant_a: Tenant) -> None:
    with pytest.raises(PermissionDenied):
        services.user_create(actor=tenant_a.designer, email="x@alpha.test", first_name="X", last_name="X")
    assert not User.unscoped.filter(email="x@alpha.test").exists()


def test_admin_cannot_give_another_companys_role(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with pytest.raises(CompanyRole.DoesNotExist):
        services.user_create(
            actor=tenant_a.admin,
            email="spy@alpha.test",
            first_name="S",
            last_name="S",
            company_roles=[tenant_b.role],
        )
    assert not User.unscoped.filter(email="spy@alpha.test").exists()
    assert not CompanyRoleMembership.unscoped.filter(
        role=tenant_b.role, user__company=tenant_a.company
    ).exists()


def test_admin_cannot_change_roles_of_another_companys_user(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with pytest.raises(User.DoesNotExist):
        services.user_set_system_roles(actor=tenant_a.admin, user=tenant_b.member, roles=[SystemRole.ADMIN])
    with pytest.raises(User.DoesNotExist):
        services.user_set_company_roles(actor=tenant_a.admin, user=tenant_b.member, roles=[])
    with pytest.raises(User.DoesNotExist):
        services.user_set_active(actor=tenant_a.admin, user=tenant_b.member, active=False)
    member = User.unscoped.get(pk=tenant_b.member.pk)
    assert member.is_active and member.system_roles == {"user"}
    with company_context(tenant_b.company):
        assert list(member.company_roles.all()) == [tenant_b.role]


def test_admin_sets_system_and_company_roles(tenant_a: Tenant) -> None:
    drivers_role = tenancy_services.company_role_create(actor=tenant_a.admin, name="Drivers")
    services.user_set_system_roles(
        actor=tenant_a.admin, user=tenant_a.member, roles=[SystemRole.TICKET_ADMIN, SystemRole.USER]
    )
    services.user_set_company_roles(actor=tenant_a.admin, user=tenant_a.member, roles=[drivers_role])
    member = User.unscoped.get(pk=tenant_a.member.pk)
    assert member.system_roles == {"ticket_admin", "user"}
    with company_context(tenant_a.company):
        assert list(member.company_roles.all()) == [drivers_role]


def test_the_last_admin_cannot_be_demoted_or_deactivated(tenant_a: Tenant) -> None:
    with pytest.raises(ValidationError):
        services.user_set_system_roles(actor=tenant_a.admin, user=tenant_a.admin, roles=[SystemRole.USER])
    with pytest.raises(ValidationError):
        services.user_set_active(actor=tenant_a.admin, user=tenant_a.admin, active=False)
    assert User.unscoped.get(pk=tenant_a.admin.pk).system_roles == {role.value for role in SystemRole}


def test_deactivated_user_cannot_log_in(tenant_a: Tenant, rf: RequestFactory) -> None:
    services.user_set_active(actor=tenant_a.admin, user=tenant_a.worker, active=False)
    assert authenticate(rf.post("/"), username=tenant_a.worker.email, password=PASSWORD) is None


def test_worker_sets_own_availability_but_not_others(tenant_a: Tenant) -> None:
    services.user_set_availability(actor=tenant_a.worker, user=tenant_a.worker, available=False)
    assert not User.unscoped.get(pk=tenant_a.worker.pk).is_available
    with pytest.raises(PermissionDenied):
        services.user_set_availability(actor=tenant_a.worker, user=tenant_a.designer, available=False)


def test_profile_update_refuses_an_address_used_in_another_company(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with pytest.raises(ValidationError) as error:
        services.profile_update(
            user=tenant_a.member, first_name="M", last_name="M", email="WORKER@bravo-bakery.test"
        )
    assert error.value.message_dict == {"email": [services.EMAIL_TAKEN]}
    assert User.unscoped.get(pk=tenant_a.member.pk).email == "member@alpha-florists.test"


def test_profile_update_saves_names_and_normalised_email(tenant_a: Tenant) -> None:
    services.profile_update(
        user=tenant_a.member, first_name=" Mo ", last_name="Member", email="Mo@Alpha.test"
    )
    member = User.unscoped.get(pk=tenant_a.member.pk)
    assert (member.first_name, member.last_name, member.email) == ("Mo", "Member", "mo@alpha.test")


def test_company_roles_are_unique_per_company_whatever_the_case(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with pytest.raises(ValidationError):
        tenancy_services.company_role_create(actor=tenant_a.admin, name="ALPHA STAFF")
    assert CompanyRole.unscoped.filter(company=tenant_a.company).count() == 1
    role = tenancy_services.company_role_create(actor=tenant_a.admin, name="Couriers")
    assert role.company_id == tenant_a.company.pk


def test_createsuperuser_makes_a_platform_operator_and_refuses_taken_addresses(tenant_a: Tenant) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("createsuperuser", email="ops@platform.test", interactive=False, verbosity=0)
    operator = User.unscoped.get(email="ops@platform.test")
    assert operator.is_superuser and operator.company is None
    with pytest.raises(CommandError, match="already taken"):
        call_command("createsuperuser", email=tenant_a.admin.email.upper(), interactive=False, verbosity=0)
