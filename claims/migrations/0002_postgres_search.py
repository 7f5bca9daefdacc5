from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

# PostgreSQL only: trigram similarity for "similar claims" and a GIN index for it.
# On SQLite both are skipped and the code falls back to plain matching.
CREATE_TRGM_INDEX = (
    "CREATE INDEX IF NOT EXISTS claim_statement_trgm "
    "ON claims_claim USING gin (statement gin_trgm_ops)"
)
DROP_TRGM_INDEX = "DROP INDEX IF EXISTS claim_statement_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRGM_INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRGM_INDEX)


class Migration(migrations.Migration):
    dependencies = [("claims", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index),
    ]
