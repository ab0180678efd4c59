from django.db import migrations, models


class Migration(migrations.Migration):
    """The unique (company, id) that company-owned rows' SameCompany constraints point at."""

    dependencies = [
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(fields=("company", "id"), name="accounts_user_company_key"),
        ),
    ]
