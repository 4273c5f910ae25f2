"""Criterion changes and gate refusals are history: append-only (the ORM, and triggers below it,
``boards.history``), and they protect what they refer to. Criterion templates are cleaned: kinds
become a list of known kinds in lower case; a template whose kinds were not a list is turned off
(an ops lead decides which kinds it was meant for) rather than applied to every kind."""

import django.db.models.deletion
from django.db import migrations, models

from boards import history

KINDS = ["feature", "defect", "risk", "debt", "escalation"]


def guards(apps, schema_editor):
    history.install(schema_editor, ["readiness_criterionchange", "readiness_gaterefusal"])


def unguard(apps, schema_editor):
    history.uninstall(schema_editor, ["readiness_criterionchange", "readiness_gaterefusal"])


def clean_kinds(apps, schema_editor):
    CriterionTemplate = apps.get_model("readiness", "CriterionTemplate")
    for template in CriterionTemplate.objects.all():
        kinds = template.applies_to_kinds
        if kinds in (None, ""):
            cleaned, active = [], template.active
        elif isinstance(kinds, list) and all(isinstance(k, str) for k in kinds):
            wanted = {k.strip().lower() for k in kinds}
            cleaned, active = [k for k in KINDS if k in wanted], template.active
            if kinds and not cleaned:
                active = False  # only unknown kinds: it applied to nothing, and still does
        else:
            cleaned, active = [], False
        if cleaned != kinds or active != template.active:
            template.applies_to_kinds, template.active = cleaned, active
            template.save(update_fields=["applies_to_kinds", "active"])


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0007_history_rows"),
        ("readiness", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="criterionchange",
            options={"base_manager_name": "objects", "ordering": ["criterion", "at", "id"]},
        ),
        migrations.AlterModelOptions(
            name="gaterefusal",
            options={"base_manager_name": "objects", "ordering": ["item", "at", "id"]},
        ),
        migrations.AlterField(
            model_name="criterionchange",
            name="criterion",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="changes",
                to="readiness.acceptancecriterion",
            ),
        ),
        migrations.AlterField(
            model_name="gaterefusal",
            name="gate_column",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="boards.column"
            ),
        ),
        migrations.AlterField(
            model_name="gaterefusal",
            name="item",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="gate_refusals",
                to="boards.workitem",
            ),
        ),
        migrations.AlterField(
            model_name="gaterefusal",
            name="to_column",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="boards.column"
            ),
        ),
        migrations.RunPython(guards, unguard),
        migrations.RunPython(clean_kinds, migrations.RunPython.noop),
    ]
