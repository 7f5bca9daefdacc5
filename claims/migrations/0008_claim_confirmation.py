"""The stored confirmation but for the level moves to its own narrow table,
claims_confirmation, one row per claim: a grade change rewrites these values
for a hundred thousand claims, and the claim's row has a dozen indexes where
this table has two (docs/performance.md, session 10)."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = (
    "computed_level",
    "likelihood",
    "likelihood_term",
    "confidence",
    "summary_rating",
    "confirmation_version",
    "report_count",
    "origin_count",
)
COLUMNS = ", ".join(MOVED)
COPY = (
    f"INSERT INTO claims_confirmation (claim_id, {COLUMNS}) "  # noqa: S608
    f"SELECT id, {COLUMNS} FROM claims_claim"
)
BACK = (
    "UPDATE claims_claim SET "  # noqa: S608
    + ", ".join(f"{name} = c.{name}" for name in MOVED)
    + " FROM claims_confirmation c WHERE c.claim_id = claims_claim.id"
)



def no_statement_timeout(schema_editor) -> None:
    # Copying every claim takes longer than a page may (DB_STATEMENT_TIMEOUT_MS);
    # for the rest of the migration's transaction.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL statement_timeout = 0")


def copy(apps, schema_editor) -> None:
    no_statement_timeout(schema_editor)
    schema_editor.execute(COPY)


def uncopy(apps, schema_editor) -> None:
    schema_editor.execute("DELETE FROM claims_confirmation")


def copy_back(apps, schema_editor) -> None:
    no_statement_timeout(schema_editor)
    schema_editor.execute(BACK)


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0007_claim_explanation_computed_on_read"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="claim",
            name="claim_likelihood_probability",
        ),
        migrations.CreateModel(
            name="ClaimConfirmation",
            fields=[
                (
                    "claim",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="confirmation",
                        serialize=False,
                        to="claims.claim",
                    ),
                ),
                (
                    "computed_level",
                    models.CharField(
                        choices=[
                            ("unsourced", "unsourced"),
                            ("single_source", "single source"),
                            ("corroborated", "corroborated"),
                            ("contested", "contested"),
                            ("confirmed", "confirmed"),
                            ("refuted", "refuted"),
                        ],
                        default="unsourced",
                        max_length=20,
                    ),
                ),
                ("likelihood", models.FloatField(default=0.5)),
                (
                    "likelihood_term",
                    models.CharField(
                        choices=[
                            ("almost_no_chance", "almost no chance"),
                            ("very_unlikely", "very unlikely"),
                            ("unlikely", "unlikely"),
                            ("roughly_even", "roughly even chance"),
                            ("likely", "likely"),
                            ("very_likely", "very likely"),
                            ("almost_certain", "almost certain"),
                        ],
                        default="roughly_even",
                        max_length=20,
                    ),
                ),
                (
                    "confidence",
                    models.CharField(
                        choices=[
                            ("low", "low"),
                            ("moderate", "moderate"),
                            ("high", "high"),
                        ],
                        default="low",
                        max_length=10,
                    ),
                ),
                ("summary_rating", models.CharField(blank=True, max_length=20)),
                ("confirmation_version", models.CharField(blank=True, max_length=20)),
                ("report_count", models.PositiveIntegerField(default=0)),
                ("origin_count", models.PositiveIntegerField(default=0)),
            ],
            options={
                "db_table": "claims_confirmation",
                "ordering": ["claim_id"],
            },
        ),
        migrations.RunPython(copy, uncopy),
        migrations.AddConstraint(
            model_name="claimconfirmation",
            constraint=models.CheckConstraint(
                condition=models.Q(("likelihood__gte", 0), ("likelihood__lte", 1)),
                name="claim_likelihood_probability",
            ),
        ),
        migrations.AddIndex(
            model_name="claimconfirmation",
            index=models.Index(
                fields=["-likelihood", "-claim"], name="confirmation_likelihood_idx"
            ),
        ),
        migrations.RemoveIndex(
            model_name="claim",
            name="claim_likelihood_idx",
        ),
        # Reversing adds the columns back with their defaults, then BACK copies
        # the values (the operations below run in reverse order).
        migrations.RunPython(migrations.RunPython.noop, copy_back),
        *(migrations.RemoveField(model_name="claim", name=name) for name in MOVED),
    ]
