from django.db import migrations

# PostgreSQL only: the source and document lookups match each typed word with
# `icontains`, which Django writes as UPPER(column::text) LIKE UPPER('%word%').
# A trigram GIN index on that same expression serves it, so a lookup reads a few
# index pages instead of every document (100,000 at the benchmark's scale). On
# SQLite nothing is created and the lookups scan, as before.
INDEXES = [
    ("source_name_upper_trgm", "sources_source", "name"),
    ("document_title_upper_trgm", "sources_document", "title"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0002_postgres_search"),
        ("sources", "0002_reliability_aggregates"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
