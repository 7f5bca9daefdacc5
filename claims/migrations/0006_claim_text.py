import django.db.models.deletion
from django.db import migrations, models

# PostgreSQL only: the search data of a claim moves to claims_claimtext, which
# triggers keep in step with the claim's statement and actors. Storing a
# recomputed confirmation rewrites every changed claim's row (a non-HOT update);
# with the GIN indexes on claims_claim each rewrite re-inserted all of the
# claim's lexemes and trigrams, most of a grade change's SQL time. The insert
# trigger is per statement, over a transition table, so that a COPY of a
# million claims (bench/generate, the importer) copies their text in one go.
# The update trigger fires only when the text changes: the confirmation's
# UPDATE names neither column, Django's save() names both.
CLAIM_TEXT = """
ALTER TABLE claims_claimtext ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, statement), 'A')
        || setweight(to_tsvector('english'::regconfig, actors), 'B')
    ) STORED;

CREATE FUNCTION claims_claimtext_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO claims_claimtext (claim_id, statement, actors)
    SELECT id, statement, actors FROM new_claims;
    RETURN NULL;
END
$$;
CREATE TRIGGER claim_text_insert AFTER INSERT ON claims_claim
    REFERENCING NEW TABLE AS new_claims
    FOR EACH STATEMENT EXECUTE FUNCTION claims_claimtext_insert();

CREATE FUNCTION claims_claimtext_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE claims_claimtext SET statement = NEW.statement, actors = NEW.actors
    WHERE claim_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER claim_text_update AFTER UPDATE OF statement, actors ON claims_claim
    FOR EACH ROW
    WHEN (OLD.statement IS DISTINCT FROM NEW.statement
          OR OLD.actors IS DISTINCT FROM NEW.actors)
    EXECUTE FUNCTION claims_claimtext_update();

INSERT INTO claims_claimtext (claim_id, statement, actors)
SELECT id, statement, actors FROM claims_claim;

CREATE INDEX claim_text_search_idx ON claims_claimtext USING gin (search_vector);
-- The expression Django writes for statement__icontains.
CREATE INDEX claim_text_statement_upper_trgm
    ON claims_claimtext USING gin ((UPPER(statement)) gin_trgm_ops);

DROP INDEX IF EXISTS claim_search_idx;
DROP INDEX IF EXISTS claim_statement_trgm;
ALTER TABLE claims_claim DROP COLUMN IF EXISTS search_vector;
"""

# Back to 0005's claims_claim (and 0002's trigram index); Django then drops
# claims_claimtext with its indexes.
DROP_CLAIM_TEXT = """
DROP TRIGGER IF EXISTS claim_text_insert ON claims_claim;
DROP TRIGGER IF EXISTS claim_text_update ON claims_claim;
DROP FUNCTION IF EXISTS claims_claimtext_insert();
DROP FUNCTION IF EXISTS claims_claimtext_update();

ALTER TABLE claims_claim ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, statement), 'A')
        || setweight(to_tsvector('english'::regconfig, actors), 'B')
    ) STORED;
CREATE INDEX claim_search_idx ON claims_claim USING gin (search_vector);
CREATE INDEX IF NOT EXISTS claim_statement_trgm
    ON claims_claim USING gin (statement gin_trgm_ops);
"""


def no_statement_timeout(schema_editor) -> None:
    # Copying and indexing every claim takes longer than a page may.
    schema_editor.execute("SET LOCAL statement_timeout = 0")


def move_search_data(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        no_statement_timeout(schema_editor)
        schema_editor.execute(CLAIM_TEXT)


def restore_search_data(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        no_statement_timeout(schema_editor)
        schema_editor.execute(DROP_CLAIM_TEXT)


class Migration(migrations.Migration):

    dependencies = [
        ('claims', '0005_search_vector_and_evidence_counts'),
    ]

    operations = [
        migrations.CreateModel(
            name='ClaimText',
            fields=[
                ('claim', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='search_text', serialize=False, to='claims.claim')),
                ('statement', models.TextField()),
                ('actors', models.CharField(blank=True, max_length=500)),
            ],
            options={
                'ordering': ['claim_id'],
            },
        ),
        migrations.RunPython(move_search_data, restore_search_data),
    ]
