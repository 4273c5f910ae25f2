"""Inserting many rows at once, below the ORM, for the paths that write history in bulk (the
history import) and snapshots (the metrics recompute).

PostgreSQL gets ``COPY ... FROM STDIN`` with declared column types (psycopg then skips guessing
each value's type); other engines get batched ``executemany``. Rows are tuples in ``columns``
order. Nothing here checks a rule: callers are services that have validated the rows.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from django.db import connection

BATCH = 5000


TIME_TYPES = {"timestamptz", "date"}


def insert_rows(
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple],
    types: Sequence[str] | None = None,
    *,
    binary: bool = False,
    prepared: bool = False,
) -> int:
    """Insert ``rows`` into ``table`` on the default connection; return how many. ``types`` are
    the columns' PostgreSQL types: COPY uses them, and elsewhere only the time columns they name
    are converted (without them every value is looked at). ``binary`` COPYs in PostgreSQL's
    binary format, cheaper to produce; every type must then be the column's own. ``prepared``
    rows already hold their times as ``time_writer`` writes them."""
    names = ", ".join(columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            options = " (FORMAT BINARY)" if binary and types else ""
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN{options}") as copy:
                if types:
                    copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
        if prepared:

            def convert(row: tuple) -> tuple:
                return row
        elif types:
            times = [i for i, name in enumerate(types) if name in TIME_TYPES]
            seen: dict = {}  # the same instant (a batch's "now") recurs on every row

            def convert(row: tuple) -> tuple:
                row = list(row)
                for i in times:
                    value = row[i]
                    if value is not None:
                        text = seen.get(value)
                        if text is None:
                            text = seen[value] = _sqlite_value(value)
                        row[i] = text
                return tuple(row)
        else:

            def convert(row: tuple) -> tuple:
                return tuple(_sqlite_value(v) for v in row)

        batch: list[tuple] = []
        for row in rows:
            batch.append(convert(row))
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def time_writer() -> Callable[[dt.datetime | dt.date | None], object]:
    """How rows for ``insert_rows(prepared=True)`` hold a time on the current connection: as is
    for PostgreSQL, as Django's SQLite text (converted once per distinct value) for SQLite."""
    if connection.vendor == "postgresql":
        return _as_is
    texts: dict = {}

    def write(value):
        if value is None:
            return None
        text = texts.get(value)
        if text is None:
            text = texts[value] = _sqlite_value(value)
        return text

    return write


def _as_is(value):
    return value


def reserve_ids(table: str, count: int) -> list[int]:
    """``count`` ids for rows about to be inserted into ``table`` with explicit ids.

    PostgreSQL: drawn from the table's sequence (unique, maybe not contiguous). SQLite: the ids
    after the largest ever used; call inside a write transaction, which SQLite serialises (the
    project opens them IMMEDIATE), so nobody else can take them meanwhile."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        (top,) = cursor.fetchone()
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(top, row[0] if row else 0) + 1
    return list(range(start, start + count))


def _sqlite_value(value):
    """Django's SQLite storage of a value: an aware time as naive UTC text, a date as ISO."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
