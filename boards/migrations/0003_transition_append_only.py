"""Make the Transition log append-only in the database too, below the ORM.

PostgreSQL: a trigger refuses UPDATE and DELETE of a row (TRUNCATE, used only by test teardown
and by an operator on purpose, is not a row operation). SQLite: a trigger refuses UPDATE; DELETE is
left to the ORM guard, because Django's test flush empties tables with DELETE.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION boards_transition_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'boards_transition is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER boards_transition_append_only
    BEFORE UPDATE OR DELETE ON boards_transition
    FOR EACH ROW EXECUTE FUNCTION boards_transition_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS boards_transition_append_only ON boards_transition;
DROP FUNCTION IF EXISTS boards_transition_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER boards_transition_append_only BEFORE UPDATE ON boards_transition
BEGIN
    SELECT RAISE(ABORT, 'boards_transition is append-only: UPDATE refused');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS boards_transition_append_only;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("boards", "0002_initial")]

    operations = [migrations.RunPython(forward, backward)]
