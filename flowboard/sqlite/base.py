"""The embedded default's database backend: Django's SQLite backend, tuned for Flowboard.

- WAL journal (a file database): readers never wait for the writer and the writer never waits
  for readers, so a team on the board, the metrics refresh and a recompute's second process
  work side by side; ``synchronous=NORMAL`` is the setting SQLite documents for WAL (durable
  across application crashes; the last transactions may be lost on power loss).
- ``max_query_params``: Django assumes SQLite's old compile-time limit of 999 variables per
  statement and splits a bulk insert of work items into batches of 49 rows. The limit is read
  from the library instead (32,766 since SQLite 3.32).
- The history guard: triggers refuse to update or delete history rows (``boards.history``).
  They ask the function ``flowboard_history_guarded()``, which every connection of this backend
  defines; a test database flush, and ``history.maintenance()``, switch it off for their own
  statements. Any other client of the file, lacking the function, is refused outright.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features, operations
from django.utils.functional import cached_property


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self) -> int:
        self.connection.ensure_connection()
        return self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        """The test runner empties every table between transactional tests: the history
        guard lets those DELETE statements through, and only those."""
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if not statements:
            return statements
        return [
            "SELECT flowboard_history_guard(0)",
            *statements,
            "SELECT flowboard_history_guard(1)",
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        # 64 MiB of page cache instead of 2: a bulk import or a recompute updates the log's
        # indexes all over; with the default, every batch rereads pages it just wrote.
        conn.execute("PRAGMA cache_size = -65536")
        guard = {"on": 1}

        def set_guard(on: int) -> int:
            guard["on"] = 1 if on else 0
            return guard["on"]

        conn.create_function("flowboard_history_guard", 1, set_guard)
        conn.create_function("flowboard_history_guarded", 0, lambda: guard["on"])
        return conn
