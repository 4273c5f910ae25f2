"""The web board: who sees what, the board's contents at any size in a fixed number of queries,
filters in the URL, polling, and no inline script or style anywhere."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from boards import ranking
from boards.models import Block, BoardMembership, Column, WorkItem
from boards.services import block_start, work_item_move
from readiness.models import AcceptanceCriterion
from tests.factories import (
    BoardFactory,
    CriterionTemplateFactory,
    MembershipFactory,
    UserFactory,
    WorkItemFactory,
)
from web import selectors


@pytest.fixture
def viewer(board):
    user = UserFactory(username="vera-viewer")
    MembershipFactory(board=board, user=user, role=BoardMembership.Role.VIEWER)
    return user


def login(client, user):
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    page = client.get("/login/").content.decode()
    assert "Sign in to Flowboard" in page and 'name="username"' in page


def test_a_member_lands_on_their_only_board(client, member, board):
    response = login(client, member).get("/")
    assert response["Location"] == reverse("web:board", args=[board.slug])


def test_the_board_list_shows_only_the_users_boards(client, member, board):
    other = BoardFactory(name="Secret board")
    page = login(client, member).get(reverse("web:boards")).content.decode()
    assert board.name in page and other.name not in page
    assert client.get(reverse("web:board", args=[other.slug])).status_code == 404


def test_an_outsider_gets_404_for_a_board_and_its_cards(client, outsider, board):
    item = WorkItemFactory(board=board)
    login(client, outsider)
    assert client.get(reverse("web:board", args=[board.slug])).status_code == 404
    assert client.get(reverse("web:card", args=[board.slug, item.key])).status_code == 404
    move = reverse("web:card-move", args=[board.slug, item.key])
    assert client.post(move, {"to_column": item.column_id}).status_code == 404


def test_a_viewer_sees_the_board_read_only(client, viewer, board, col):
    item = WorkItemFactory(board=board)
    page = login(client, viewer).get(reverse("web:board", args=[board.slug])).content.decode()
    assert item.key in page
    assert "is-draggable" not in page and "Move to…" not in page and "+ Add" not in page
    assert 'data-writable="0"' in page
    response = client.post(
        reverse("web:card-move", args=[board.slug, item.key]),
        {"to_column": col["Ready"].pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not item.transitions.filter(to_column=col["Ready"]).exists()


def test_a_member_sees_drag_handles_move_to_and_add(client, member, board):
    WorkItemFactory(board=board)
    page = login(client, member).get(reverse("web:board", args=[board.slug])).content.decode()
    assert "is-draggable" in page and "Move to…" in page and "+ Add" in page


def test_column_headers_show_count_limit_and_state(client, member, board, col):
    Column.objects.filter(pk=col["Build"].pk).update(wip_limit=2, wip_policy="hard")
    Column.objects.filter(pk=col["Review"].pk).update(wip_limit=5)
    for _ in range(3):
        work_item_move(
            WorkItemFactory(board=board), col["Build"], actor=None, source="api", enforce=False
        )
    for _ in range(4):
        work_item_move(WorkItemFactory(board=board), col["Review"], actor=None, source="api")
    view = selectors.board_view(board, selectors.Filters())
    states = {c.column.name: (c.total, c.wip_state) for c in view.columns}
    assert states["Build"] == (3, "over")
    assert states["Review"] == (4, "near")
    assert states["Backlog"] == (0, "")
    page = login(client, member).get(reverse("web:board", args=[board.slug])).content.decode()
    assert "wip-over" in page and "wip-near" in page and "is-waiting" in page


def bulk_cards(board, count, column_names=("Backlog", "Ready", "Build", "Review")):
    """``count`` open cards spread over the columns, with some blocks and criteria: straight
    into the tables, as a large board would be."""
    columns = [board.columns.get(name=n) for n in column_names]
    now = timezone.now()
    ranks = ranking.sequence(count)
    items = WorkItem.objects.bulk_create(
        WorkItem(
            board=board,
            key=f"BULK-{n}",
            title=f"Card {n}",
            column=columns[n % len(columns)],
            rank=ranks[n],
            created_at=now - dt.timedelta(days=n % 30 + 1),
            started_at=now - dt.timedelta(days=n % 20) if n % len(columns) else None,
            due_date=(now + dt.timedelta(days=n % 9 - 3)).date() if n % 5 == 0 else None,
        )
        for n in range(count)
    )
    Block.objects.bulk_create(
        Block(item=item, reason="external", note="Vendor", started_at=now) for item in items[::10]
    )
    gate = board.columns.get(name="Done")
    AcceptanceCriterion.objects.bulk_create(
        AcceptanceCriterion(item=item, title="Docs", track="docs", gate_column=gate)
        for item in items[::3]
    )
    return items


def board_queries(client, board) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("web:board", args=[board.slug]))
    assert response.status_code == 200
    return len(captured)


def test_the_board_renders_with_a_constant_number_of_queries(client, member, board):
    small = BoardFactory()
    MembershipFactory(board=small, user=member)
    bulk_cards(small, 20)
    bulk_cards(board, 2000)
    login(client, member)
    assert board_queries(client, small) == board_queries(client, board)


def test_a_long_column_shows_100_cards_and_loads_the_rest_on_demand(client, member, board):
    bulk_cards(board, 230, column_names=("Backlog",))
    login(client, member)
    page = client.get(reverse("web:board", args=[board.slug])).content.decode()
    assert page.count('class="card ') == 100
    assert "Show 130 more" in page
    backlog = board.columns.get(name="Backlog")
    url = reverse("web:column-more", args=[board.slug, backlog.pk])
    more = client.get(url, {"offset": 100}).content.decode()
    assert more.count('class="card ') == 100 and "Show 30 more" in more
    last = client.get(url, {"offset": 200}).content.decode()
    assert last.count('class="card ') == 30 and "more" not in last.split("</li>")[-1]


def test_done_columns_show_the_last_two_weeks_and_older_on_demand(client, member, board, col):
    now = timezone.now()
    old = WorkItemFactory(board=board, created_at=now - dt.timedelta(days=60))
    recent = WorkItemFactory(board=board, created_at=now - dt.timedelta(days=60))
    for item, days in ((old, 40), (recent, 3)):
        work_item_move(
            item, col["Ready"], actor=None, source="api", at=now - dt.timedelta(days=days + 1)
        )
        work_item_move(
            item, col["Done"], actor=None, source="api", at=now - dt.timedelta(days=days)
        )
    login(client, member)
    page = client.get(reverse("web:board", args=[board.slug])).content.decode()
    assert recent.key in page and old.key not in page
    assert "Show 1 delivered more than two weeks ago" in page
    older = client.get(reverse("web:board", args=[board.slug]), {"older": col["Done"].pk})
    assert old.key in older.content.decode()


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"kind": "defect"}, ["defect"], ["feature", "blocked", "legal"]),
        ({"blocked": "1"}, ["blocked"], ["feature", "defect"]),
        ({"overdue": "1"}, ["overdue"], ["feature", "defect"]),
        ({"track": "legal"}, ["legal"], ["feature", "defect"]),
        ({"q": "Invoice"}, ["feature"], ["defect", "blocked"]),
    ],
    ids=["kind", "blocked", "overdue", "track", "search"],
)
def test_filters_are_kept_in_the_url(client, member, board, col, query, shown, hidden):
    today = timezone.now().date()
    cards = {
        "feature": WorkItemFactory(board=board, title="Invoice export"),
        "defect": WorkItemFactory(board=board, kind="defect", title="Fix rounding"),
        "blocked": WorkItemFactory(board=board, title="Waits on vendor"),
        "overdue": WorkItemFactory(
            board=board, title="Late", due_date=today - dt.timedelta(days=2)
        ),
    }
    CriterionTemplateFactory(board=board, track="legal", applies_to_kinds=["risk"])
    cards["legal"] = WorkItemFactory(board=board, kind="risk", title="Privacy")
    block_start(cards["blocked"], actor=None, reason="external")
    login(client, member)
    page = client.get(reverse("web:board", args=[board.slug]), query).content.decode()
    for name in shown:
        assert f'id="card-{cards[name].key}"' in page, name
    for name in hidden:
        assert f'id="card-{cards[name].key}"' not in page, name
    for value in query.values():
        assert f'value="{value}"' in page  # the form shows the filter it applied


def test_swimlanes_put_expedite_on_top(client, member, board):
    WorkItemFactory(board=board, title="Standard one")
    urgent = WorkItemFactory(board=board, class_of_service="expedite", title="Urgent one")
    view = selectors.board_view(board, selectors.Filters(lanes="class_of_service"))
    assert [lane.key for lane in view.lanes] == ["expedite", "standard"]
    assert view.lanes[0].cells[0][1][0].key == urgent.key
    page = login(client, member).get(reverse("web:board", args=[board.slug]), {"lanes": "kind"})
    assert 'class="lane-title lane-feature"' in page.content.decode()


def test_cards_show_age_block_readiness_and_due_date_risk(board, col):
    CriterionTemplateFactory(board=board, track="legal")
    CriterionTemplateFactory(board=board, track="support")
    item = WorkItemFactory(
        board=board,
        due_date=timezone.now().date() + dt.timedelta(days=1),
        created_at=timezone.now() - dt.timedelta(days=10),
    )
    work_item_move(item, col["Build"], actor=None, source="api",
                   at=timezone.now() - dt.timedelta(days=4))  # fmt: skip
    block_start(item, actor=None, reason="decision", note="Pricing")
    from readiness.services import criterion_meet

    criterion_meet(item.criteria.get(track="legal"), actor=None)
    card = selectors.board_view(board, selectors.Filters()).columns[2].cards[0]
    assert (card.age_days, card.blocked_reason, card.blocked_note) == (
        5,
        "Waiting for a decision",
        "Pricing",
    )
    assert (card.met, card.required) == (1, 2)
    assert card.tracks == [("legal", "Legal & compliance", "done"), ("support", "Support", "none")]
    assert (card.due_state, card.due_in_days) == ("soon", 1)


def test_the_version_answers_304_until_something_changes(client, member, board, col):
    item = WorkItemFactory(board=board)
    login(client, member)
    url = reverse("web:board-version", args=[board.slug])
    first = client.get(url)
    etag = first["ETag"]
    assert first.status_code == 200
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    work_item_move(item, col["Ready"], actor=None, source="api")
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_polling_costs_two_queries_besides_the_session(
    client, member, board, django_assert_max_num_queries
):
    login(client, member)
    client.get(reverse("web:board-version", args=[board.slug]))
    with django_assert_max_num_queries(6):  # session, user, board, role, version (2)
        client.get(reverse("web:board-version", args=[board.slug]))


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\sstyle=", re.I), "a style attribute"),
    (re.compile(r"<style", re.I), "a <style> element"),
    (re.compile(r"\son[a-z]+=", re.I), "an on* handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"\shx-on", re.I), "an hx-on handler"),
]


def test_no_page_has_an_inline_script_or_style(client, member, board, col):
    item = WorkItemFactory(board=board)
    block_start(item, actor=None, reason="external")
    pages = [reverse("web:board", args=[board.slug]), reverse("web:boards"),
             reverse("web:card", args=[board.slug, item.key]),
             reverse("web:dashboard", args=[board.slug])]  # fmt: skip
    login(client, member)
    htmx = client.get(pages[2], HTTP_HX_REQUEST="true").content.decode()
    bodies = [client.get(url).content.decode() for url in pages] + [htmx]
    client.logout()
    bodies.append(client.get("/login/").content.decode())
    for body in bodies:
        for pattern, what in INLINE:
            assert not pattern.search(body), f"{what}: {pattern.search(body).group(0)}"
