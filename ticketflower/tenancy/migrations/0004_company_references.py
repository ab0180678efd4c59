import ticketflower.tenancy.constraints
from django.db import migrations, models


class Migration(migrations.Migration):
    """Role links may only join rows of one company: PostgreSQL refuses anything else."""

    dependencies = [
        ("accounts", "0003_user_company_key"),
        ("tenancy", "0003_company_restrict_definitions"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="companyrole",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="tenancy_companyrole_company_key"),
        ),
        migrations.AddConstraint(
            model_name="systemroleassignment",
            constraint=ticketflower.tenancy.constraints.SameCompany(
                field="user", name="tenancy_systemrole_user_same_company"
            ),
        ),
        migrations.AddConstraint(
            model_name="companyrolemembership",
            constraint=ticketflower.tenancy.constraints.SameCompany(
                field="user", name="tenancy_membership_user_same_company"
            ),
        ),
        migrations.AddConstraint(
            model_name="companyrolemembership",
            constraint=ticketflower.tenancy.constraints.SameCompany(
                field="role", name="tenancy_membership_role_same_company"
            ),
        ),
    ]
