from django.db import migrations

# PostgreSQL only: the stored search vector the claim list's full-text search
# filters and ranks by (claims.filters.SearchVectorColumn), kept by the database
# as a generated column, with its GIN index; and "time of event, latest first"
# with empty times last, an index SQLite cannot declare. The model does not
# declare the column (SQLite has no tsvector): a later change to the type of
# statement or actors must drop and re-add it.
SEARCH_VECTOR = """
ALTER TABLE claims_claim ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, statement), 'A')
        || setweight(to_tsvector('english'::regconfig, actors), 'B')
    ) STORED;
CREATE INDEX claim_search_idx ON claims_claim USING gin (search_vector);
CREATE INDEX claim_time_start_desc_idx
    ON claims_claim (time_start DESC NULLS LAST, id DESC);
"""
DROP_SEARCH_VECTOR = """
DROP INDEX IF EXISTS claim_time_start_desc_idx;
DROP INDEX IF EXISTS claim_search_idx;
ALTER TABLE claims_claim DROP COLUMN IF EXISTS search_vector;
"""

# The stored evidence counts, as claims.confirmation_store computes them: every
# citation, and the distinct origins of the citing sources (a source without a
# stored origin is its own).
BACKFILL_COUNTS = """
UPDATE claims_claim SET report_count = counted.reports, origin_count = counted.origins
FROM (
    SELECT c.claim_id,
           COUNT(*) AS reports,
           COUNT(DISTINCT COALESCE(s.origin_id, s.id)) AS origins
    FROM claims_citation c JOIN sources_source s ON s.id = c.source_id
    GROUP BY c.claim_id
) AS counted
WHERE counted.claim_id = claims_claim.id
"""


def no_statement_timeout(schema_editor) -> None:
    # Rewriting every claim takes longer than a page may (DB_STATEMENT_TIMEOUT_MS).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL statement_timeout = 0")


def add_search_vector(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        no_statement_timeout(schema_editor)
        schema_editor.execute(SEARCH_VECTOR)


def drop_search_vector(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SEARCH_VECTOR)


def backfill_counts(apps, schema_editor):
    no_statement_timeout(schema_editor)
    schema_editor.execute(BACKFILL_COUNTS)


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0004_list_indexes_and_evidence_counts"),
        ("sources", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_search_vector, drop_search_vector),
        migrations.RunPython(backfill_counts, migrations.RunPython.noop),
    ]
