"""The flow dashboard: every chart answers its data over a range, as JSON and as CSV."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from boards.services import block_end, block_start, work_item_move
from metrics import refresh, summary
from readiness.services import criterion_meet
from tests.factories import CriterionTemplateFactory, WorkItemFactory
from web.dashboard import CHARTS


@pytest.fixture
def history(board, col):
    """A few weeks of flow: items through readiness to Done, one blocked on a criterion."""
    now = timezone.now()
    CriterionTemplateFactory(board=board, title="Docs", track="docs", gate_column=col["Done"])
    for n in range(6):
        start = now - dt.timedelta(days=30 - n * 3)
        item = WorkItemFactory(board=board, created_at=start - dt.timedelta(days=1),
                               kind="defect" if n % 3 == 0 else "feature")  # fmt: skip
        work_item_move(item, col["Ready"], actor=None, source="api", at=start)
        work_item_move(
            item, col["Build"], actor=None, source="api", at=start + dt.timedelta(days=1)
        )
        work_item_move(
            item, col["Readiness"], actor=None, source="api", at=start + dt.timedelta(days=3)
        )
        criterion = item.criteria.get()
        block_start(item, actor=None, reason="external", criterion=criterion,
                    at=start + dt.timedelta(days=3, hours=1))  # fmt: skip
        block_end(item, actor=None, at=start + dt.timedelta(days=4))
        criterion_meet(criterion, actor=None, at=start + dt.timedelta(days=4, hours=2))
        if n < 5:
            work_item_move(
                item, col["Done"], actor=None, source="api", at=start + dt.timedelta(days=5)
            )
    refresh.recompute_board(board)
    summary.refresh_summary(board)
    return board


@pytest.fixture
def web(client, member):
    client.force_login(member)
    return client


@pytest.mark.parametrize("chart", list(CHARTS))
def test_every_chart_has_data_a_reading_line_and_a_csv(web, history, chart):
    url = reverse("web:chart", args=[history.slug, chart, "json"])
    data = web.get(url).json()
    assert data["rows"], chart
    assert data["how"] and data["title"]
    assert all(len(row) == len(data["columns"]) for row in data["rows"])
    response = web.get(reverse("web:chart", args=[history.slug, chart, "csv"]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == data["columns"] and len(rows) == len(data["rows"]) + 1


def test_the_range_narrows_a_chart(web, history):
    url = reverse("web:chart", args=[history.slug, "cycle-scatter", "json"])
    everything = web.get(url).json()["rows"]
    today = timezone.now().date()
    recent = web.get(url, {"since": (today - dt.timedelta(days=20)).isoformat()}).json()["rows"]
    assert 0 < len(recent) < len(everything)


def test_the_bottleneck_is_named_with_its_evidence(web, history):
    data = web.get(reverse("web:chart", args=[history.slug, "time-in-column", "json"])).json()
    assert data["bottleneck"] and data["evidence"].startswith(data["bottleneck"] + ": avg WIP")


@pytest.mark.parametrize(
    ("query", "message"),
    [({"since": "yesterday"}, "YYYY-MM-DD"), ({"since": "2026-05-01", "until": "2026-04-01"},
                                                "starts (2026-05-01) after it ends")],
)  # fmt: skip
def test_a_bad_range_is_a_400_in_words(web, history, query, message):
    response = web.get(reverse("web:chart", args=[history.slug, "cfd", "json"]), query,
                       HTTP_ACCEPT="application/json")  # fmt: skip
    assert response.status_code == 400 and message in response.json()["detail"]


def test_an_unknown_chart_is_a_404(web, history):
    assert web.get(reverse("web:chart", args=[history.slug, "pie", "json"])).status_code == 404
    assert web.get(reverse("web:chart", args=[history.slug, "cfd", "xml"])).status_code == 404


def test_an_outsider_gets_no_chart(client, outsider, history):
    client.force_login(outsider)
    assert client.get(reverse("web:chart", args=[history.slug, "cfd", "json"])).status_code == 404
    assert client.get(reverse("web:dashboard", args=[history.slug])).status_code == 404


def test_the_dashboard_page_lists_every_chart_and_the_forecast(web, history):
    page = web.get(reverse("web:dashboard", args=[history.slug])).content.decode()
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in page
    assert "Monte Carlo forecast" in page
