import base64
import secrets

import django.core.validators
from django.db import migrations, models

import ticketflower.tenancy.models


def give_each_company_its_own_secret(apps, schema_editor):
    # AddField would give every existing row the same default; each company needs its own.
    Company = apps.get_model("tenancy", "Company")
    for pk in Company._base_manager.values_list("pk", flat=True):
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        Company._base_manager.filter(pk=pk).update(webhook_secret=secret)


class Migration(migrations.Migration):

    dependencies = [
        ('tenancy', '0004_company_references'),
    ]

    operations = [
        migrations.AddField(
            model_name='company',
            name='action_max_attempts',
            field=models.PositiveSmallIntegerField(default=5, help_text='How many times a failing HTTP action is tried before it stops in ERROR (1 to 20). Waits between tries grow, from seconds to minutes.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(20)], verbose_name='HTTP action attempts'),
        ),
        migrations.AddField(
            model_name='company',
            name='webhook_secret',
            field=models.CharField(default='', editable=False, max_length=100, verbose_name='signing secret'),
            preserve_default=False,
        ),
        migrations.RunPython(give_each_company_its_own_secret, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='company',
            name='webhook_secret',
            field=models.CharField(default=ticketflower.tenancy.models.new_webhook_secret, editable=False, max_length=100, verbose_name='signing secret'),
        ),
        migrations.AddConstraint(
            model_name='company',
            constraint=models.CheckConstraint(condition=models.Q(('action_max_attempts__gte', 1), ('action_max_attempts__lte', 20)), name='tenancy_company_action_max_attempts_range'),
        ),
    ]
