"""FileUpload moved to the files app: the table stays (files.0001 takes it over in the state)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("runtime", "0010_worker_load"),
        ("files", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="fileupload", name="runtime_file_uploaded_by_same_company"),
                migrations.DeleteModel(name="FileUpload"),
            ],
            database_operations=[],
        ),
    ]
