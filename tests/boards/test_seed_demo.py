"""The demo board: realistic, every chart has something to show, and seeding is idempotent."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from boards.models import Block, Board, Transition, WorkItem
from metrics.models import ItemMetrics, PendingRefresh
from readiness.models import AcceptanceCriterion, CriterionTemplate, GateRefusal


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("seed_demo", verbosity=0)
        board = Board.objects.get(slug="demo")
        yield board
        # Module-scoped data outside a test transaction: remove it so other tests start clean.
        from django.db import connection

        tables = [
            "metrics_itemmetrics", "metrics_pendingrefresh", "metrics_boardday",
            "metrics_columnday", "metrics_boardmetrics", "readiness_gaterefusal",
            "readiness_criterionchange", "boards_block", "readiness_acceptancecriterion",
            "readiness_criteriontemplate", "boards_event", "boards_transition",
            "boards_boardmembership",
            "boards_workitem",
        ]  # fmt: skip
        from boards import history

        with connection.cursor() as cursor, history.maintenance():
            if connection.vendor == "postgresql":
                cursor.execute(f"TRUNCATE {', '.join(tables)}, boards_board, boards_column CASCADE")
            else:
                for table in tables:
                    cursor.execute(f"DELETE FROM {table}")
                cursor.execute(
                    "UPDATE boards_board SET commitment_column_id = NULL, delivery_column_id = NULL"
                )
                cursor.execute("DELETE FROM boards_column")
                cursor.execute("DELETE FROM boards_board")


pytestmark = pytest.mark.django_db


def test_the_board_has_the_columns_of_the_issue(demo):
    names = list(demo.columns.values_list("name", flat=True))
    assert names == [
        "Backlog", "Ready", "In development", "Code review", "Testing", "Ready for release",
        "Business readiness", "Released", "Operating",
    ]  # fmt: skip
    assert (demo.commitment_column.name, demo.delivery_column.name) == ("Ready", "Released")
    assert demo.columns.get(name="Business readiness").stage == "readiness"
    assert set(demo.columns.filter(activity="waiting").values_list("name", flat=True)) >= {
        "Code review",
        "Ready for release",
    }


def test_templates_cover_four_tracks_guarding_released(demo):
    templates = CriterionTemplate.objects.filter(board=demo)
    assert set(templates.values_list("track", flat=True)) == {"support", "docs", "gtm", "legal"}
    assert set(templates.values_list("gate_column__name", flat=True)) == {"Released"}


def test_history_is_realistic(demo):
    items = WorkItem.objects.filter(board=demo)
    assert 120 <= items.count() <= 180
    kinds = dict(items.values_list("kind").annotate(n=Count("id")))
    assert set(kinds) == {"feature", "defect", "debt", "risk", "escalation"}
    first = Transition.objects.filter(board=demo).order_by("at").first().at
    assert timezone.now() - first > dt.timedelta(days=110)
    reopens = Transition.objects.filter(
        board=demo, from_column__position__gte=7, to_column__position__lt=7
    )
    assert reopens.exists()
    assert Block.objects.filter(item__board=demo, ended_at__isnull=False).count() > 20
    assert AcceptanceCriterion.objects.filter(item__board=demo, status="waived").exists()
    assert GateRefusal.objects.filter(item__board=demo).exists()
    assert items.filter(discarded_at__isnull=False).exists()
    assert items.filter(delivered_at__isnull=False).count() > 50
    assert items.filter(started_at__isnull=False, delivered_at__isnull=True).count() > 5


def test_metrics_snapshots_are_filled(demo):
    assert (
        ItemMetrics.objects.filter(board=demo).count()
        == WorkItem.objects.filter(board=demo).count()
    )
    assert not PendingRefresh.objects.filter(board=demo).exists()


def test_seeding_again_changes_nothing(demo):
    before = (WorkItem.objects.count(), Transition.objects.count(), Block.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (WorkItem.objects.count(), Transition.objects.count(), Block.objects.count()) == before


def test_the_login_option_prints_a_working_login(demo, client):
    from io import StringIO

    out = StringIO()
    call_command("seed_demo", "--login", stdout=out)
    password = out.getvalue().strip().split()[-1]
    assert client.login(username="demo", password=password)
