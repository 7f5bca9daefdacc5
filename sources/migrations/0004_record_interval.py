from django.db import migrations, models


def fill(apps, schema_editor):
    # The same function the stored aggregates' refresh calls afterwards.
    from sources.reliability import fill_intervals

    with schema_editor.connection.cursor() as cursor:
        fill_intervals(cursor)


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0003_lookup_trigram_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="sourcerecord",
            name="low",
            field=models.FloatField(null=True),
        ),
        migrations.AddField(
            model_name="sourcerecord",
            name="high",
            field=models.FloatField(null=True),
        ),
        migrations.AddField(
            model_name="sourcerecord",
            name="suggested",
            field=models.CharField(
                blank=True,
                choices=[
                    ("A", "A – completely reliable"),
                    ("B", "B – usually reliable"),
                    ("C", "C – fairly reliable"),
                    ("D", "D – not usually reliable"),
                    ("E", "E – unreliable"),
                    ("F", "F – reliability cannot be judged"),
                ],
                db_default="",
                max_length=1,
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
