"""The audit trail becomes append-only in the database itself.

A trigger refuses every UPDATE and DELETE of an audit row, whatever code or SQL
asks, with one exception: deleting a user sets ``actor_id`` to NULL (the foreign
key is SET_NULL, which Django carries out with an UPDATE) and the name stays in
``actor_username``. Both databases raise an integrity error with the same words.

PostgreSQL refuses DELETE too. TRUNCATE, which test teardown and ``flush`` use
there, fires no row trigger. SQLite gets only the UPDATE trigger: its ``flush``
(and so every transactional test's teardown) empties tables with DELETE, and on
SQLite the file's owner can change anything anyway.

Later migrations: a data migration that must rewrite audit rows on PostgreSQL
disables the trigger around it (ALTER TABLE ... DISABLE TRIGGER); on SQLite a
migration that rebuilds analysts_auditentry drops the trigger with the old table
and must create it again (a test checks that it is there).
"""

from django.db import migrations

MESSAGE = "The audit trail is append-only: {op} of analysts_auditentry refused."

POSTGRESQL_CREATE = f"""
CREATE OR REPLACE FUNCTION analysts_auditentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
       AND to_jsonb(NEW) - 'actor_id' = to_jsonb(OLD) - 'actor_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{MESSAGE.format(op="%")}', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER analysts_auditentry_append_only
    BEFORE UPDATE OR DELETE ON analysts_auditentry
    FOR EACH ROW EXECUTE FUNCTION analysts_auditentry_append_only();
"""

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS analysts_auditentry_append_only ON analysts_auditentry;
DROP FUNCTION IF EXISTS analysts_auditentry_append_only();
"""

# Every column but actor_id must stay as it was; a column added later belongs here.
UNCHANGED = (
    "id",
    "actor_username",
    "at",
    "action",
    "model",
    "object_id",
    "object_repr",
    "before",
    "after",
    "note",
)
SQLITE_CREATE = f"""
CREATE TRIGGER analysts_auditentry_append_only
BEFORE UPDATE ON analysts_auditentry
FOR EACH ROW WHEN NOT (
    OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
    AND {" AND ".join(f'NEW."{name}" IS OLD."{name}"' for name in UNCHANGED)}
)
BEGIN
    SELECT RAISE(ABORT, '{MESSAGE.format(op="UPDATE")}');
END;
"""

SQLITE_DROP = "DROP TRIGGER IF EXISTS analysts_auditentry_append_only;"


def run(statements: dict[str, str]):
    def operation(apps, schema_editor) -> None:
        sql = statements.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("analysts", "0003_api_tokens")]

    operations = [
        migrations.RunPython(
            run({"postgresql": POSTGRESQL_CREATE, "sqlite": SQLITE_CREATE}),
            run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
            elidable=False,
        )
    ]
