"""The history guards of ``boards.history``: triggers that refuse UPDATE and DELETE of the
Transition log, on PostgreSQL and now on SQLite too (DELETE included: the project's SQLite
backend lets only a test flush through). They replace the triggers of 0003; on SQLite those
were lost when 0005 rebuilt the table."""

from django.db import migrations

from boards import history

OLD = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS boards_transition_append_only ON boards_transition",
        "DROP FUNCTION IF EXISTS boards_transition_append_only()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS boards_transition_append_only"],
}


def forward(apps, schema_editor):
    for sql in OLD.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql, params=None)
    history.install(schema_editor, ["boards_transition"])


def backward(apps, schema_editor):
    history.uninstall(schema_editor, ["boards_transition"])


class Migration(migrations.Migration):
    dependencies = [("boards", "0005_lean_log_indexes")]

    operations = [migrations.RunPython(forward, backward)]
