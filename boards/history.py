"""The history tables are append-only below the ORM too: database triggers refuse an UPDATE or
a DELETE of a row of the Transition log (and of the other history tables that register here).

- PostgreSQL: a trigger function raises on UPDATE or DELETE. TRUNCATE (the test runner's flush)
  is not a row operation and passes.
- SQLite: triggers raise unless ``flowboard_history_guarded()`` returns 0, which only the
  project's backend does, during a test flush (``flowboard/sqlite/base.py``) or
  ``maintenance()``.

On SQLite, a migration that rebuilds a guarded table (most ALTERs do) drops its triggers: such a
migration must end with ``install``. ``tests/boards/test_transition_log.py`` checks every table.
"""

from contextlib import contextmanager

from django.db import connection

# Tables whose rows are never updated or deleted.
GUARDED = [
    "boards_transition",
    "boards_event",
    "readiness_criterionchange",
    "readiness_gaterefusal",
]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION flowboard_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def _names(table: str) -> tuple[str, str]:
    return f"{table}_no_update", f"{table}_no_delete"


def install(schema_editor, tables=None) -> None:
    """(Re)create the triggers of ``tables`` (default: every guarded table). Idempotent."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
    for table in tables or GUARDED:
        update, delete = _names(table)
        if vendor == "postgresql":
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {update} ON {table}; "
                f"CREATE TRIGGER {update} BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION flowboard_history_append_only();",
                params=None,
            )
        elif vendor == "sqlite":
            for name, operation in ((update, "UPDATE"), (delete, "DELETE")):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
                schema_editor.execute(
                    f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
                    "WHEN flowboard_history_guarded() "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); "
                    "END"
                )


def uninstall(schema_editor, tables=None) -> None:
    vendor = schema_editor.connection.vendor
    for table in tables or GUARDED:
        update, delete = _names(table)
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {update} ON {table}", params=None)
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {update}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {delete}")


@contextmanager
def maintenance(tables=None):
    """Let this connection delete history rows inside the block: for an operator's script that
    removes a whole board (``bench/generate.py``), never for the application. On PostgreSQL
    the triggers are disabled for the transaction (which must be open, and needs the table's
    owner); on SQLite the guard function is switched off."""
    tables = tables or GUARDED
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses to run while deferred FK checks of the transaction are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {_names(table)[0]}")
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT flowboard_history_guard(0)")
        try:
            yield
        finally:
            if connection.vendor == "postgresql":
                for table in tables:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {_names(table)[0]}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            elif connection.vendor == "sqlite":
                cursor.execute("SELECT flowboard_history_guard(1)")
