import secrets

from django.db import migrations, models


def first_version(apps, schema_editor):
    apps.get_model("sources", "StoredVersion").objects.create(
        pk=1, token=secrets.token_hex(16)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0006_source_country_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="StoredVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("token", models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(first_version, migrations.RunPython.noop),
    ]
