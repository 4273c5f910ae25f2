"""Inserting many rows at once, below the ORM, for the paths that write history in bulk (the
history import) and snapshots (the metrics recompute).

PostgreSQL gets ``COPY ... FROM STDIN`` with declared column types (psycopg then skips guessing
each value's type); other engines get batched ``executemany``. Rows are tuples in ``columns``
order. Nothing here checks a rule: callers are services that have validated the rows.
"""

import datetime as dt
from collections.abc import Iterable, Sequence

from django.db import connection

BATCH = 5000


def insert_rows(
    table: str, columns: Sequence[str], rows: Iterable[tuple], types: Sequence[str] | None = None
) -> int:
    """Insert ``rows`` into ``table`` on the default connection; return how many."""
    names = ", ".join(columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                if types:
                    copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
        batch: list[tuple] = []
        for row in rows:
            batch.append(tuple(_sqlite_value(v) for v in row))
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _sqlite_value(value):
    """Django's SQLite storage of a value: an aware time as naive UTC text, a date as ISO."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
