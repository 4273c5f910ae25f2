"""The embedded default's database backend: Django's SQLite backend, tuned for Flowboard.

- ``max_query_params``: Django assumes SQLite's old compile-time limit of 999 variables per
  statement and splits a bulk insert of work items into batches of 49 rows. The limit is read
  from the library instead (32,766 since SQLite 3.32), so a bulk import writes a batch of
  items in one statement, as on PostgreSQL.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features
from django.utils.functional import cached_property


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self) -> int:
        self.connection.ensure_connection()
        return self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
