"""Ranks become keys of the reference fractional-indexing algorithm (``boards.ranking``).

1. On PostgreSQL the rank column gets the "C" collation, so the database orders ranks by byte, as
   Python does: the keys mix digits, upper and lower case, which a language collation (such as
   en_US) orders differently. SQLite's default collation, BINARY, already compares bytes.
2. Every column's ranks are rewritten, in their current order, as the short keys that appends
   to an empty column would give. This also rebalances the long ranks that the earlier midpoint
   scheme grew at the bottom of long columns (one character every few cards).

Reversing keeps the new ranks: they sort the same way.
"""

import fractional_indexing
from django.db import migrations

BATCH = 2000


def collate_c(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'ALTER TABLE boards_workitem ALTER COLUMN rank TYPE varchar(64) COLLATE "C"'
        )


def collate_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE boards_workitem ALTER COLUMN rank TYPE varchar(64)")


def rekey(apps, schema_editor):
    WorkItem = apps.get_model("boards", "WorkItem")
    Column = apps.get_model("boards", "Column")
    for column_id in Column.objects.values_list("id", flat=True).iterator():
        ids = list(
            WorkItem.objects.filter(column_id=column_id)
            .order_by("rank", "id")
            .values_list("id", flat=True)
        )
        keys = fractional_indexing.generate_n_keys_between(None, None, len(ids)) if ids else []
        for start in range(0, len(ids), BATCH):
            WorkItem.objects.bulk_update(
                [
                    WorkItem(id=item_id, rank=key)
                    for item_id, key in zip(
                        ids[start : start + BATCH], keys[start : start + BATCH], strict=True
                    )
                ],
                ["rank"],
            )


class Migration(migrations.Migration):
    dependencies = [("boards", "0003_transition_append_only")]

    operations = [
        migrations.RunPython(collate_c, collate_default),
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
