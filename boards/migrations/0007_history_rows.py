"""Idempotency keys keep a fingerprint of their request; the log's base manager is append-only.
Adding the column rebuilds the table on SQLite, which drops its triggers: reinstalled."""

from django.db import migrations, models

from boards import history


def guards(apps, schema_editor):
    history.install(schema_editor, ["boards_transition"])


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0006_history_guards"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="transition",
            options={"base_manager_name": "objects", "ordering": ["at", "id"]},
        ),
        migrations.AddField(
            model_name="transition",
            name="request_fingerprint",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(guards, migrations.RunPython.noop),
    ]
