"""The whole flow in a real browser: log in, drag cards through WIP limits and readiness gates,
work the checklist in the drawer, block, add and discard, watch another person's moves arrive,
and read the dashboard's charts."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from playwright.sync_api import expect

from boards.models import BoardMembership, Column, Transition, WorkItem
from boards.services import work_item_move
from metrics import refresh, summary
from tests.factories import (
    BoardFactory,
    CriterionTemplateFactory,
    MembershipFactory,
    UserFactory,
    WorkItemFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def sign_in(context, live_server, user) -> None:
    """A signed-in browser context, through a session cookie (the login form has its own test)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
          "url": live_server.url}]
    )  # fmt: skip


def drag_to(page, key: str, column: Column) -> None:
    """Drag a card by its title onto the end of a column's list, as a hand would: press, move
    in small steps, release."""
    card = page.locator(f"#card-{key} .card-title")
    card.scroll_into_view_if_needed()
    source = card.bounding_box()
    target_list = page.locator(f'ol.cards[data-column="{column.pk}"]')
    target_list.scroll_into_view_if_needed()
    source = card.bounding_box()
    target = target_list.bounding_box()
    page.mouse.move(source["x"] + 20, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(source["x"] + 30, source["y"] + source["height"] / 2 + 10, steps=5)
    x = target["x"] + target["width"] / 2
    y = target["y"] + target["height"] - 12
    page.mouse.move(x, y, steps=20)
    page.mouse.move(x, y + 4, steps=3)
    page.mouse.up()


def drag(page, key: str, column: Column):
    """Drag a card onto a column and wait for the move's answer."""
    with page.expect_response(re.compile(r"/move$")) as answer:
        drag_to(page, key, column)
    return answer.value


@pytest.fixture
def team(db):
    """A board with a hard-limited column and a readiness gate, a member and a viewer."""
    board = BoardFactory(name="Checkout")
    columns = {c.name: c for c in board.columns.all()}
    Column.objects.filter(pk=columns["Review"].pk).update(wip_limit=1, wip_policy="hard")
    member = UserFactory(username="mia")
    MembershipFactory(board=board, user=member, role=BoardMembership.Role.MEMBER)
    viewer = UserFactory(username="victor")
    MembershipFactory(board=board, user=viewer, role=BoardMembership.Role.VIEWER)
    return board, columns, member, viewer


def test_log_in_open_the_demo_board_and_drag_a_card(page, live_server, shot):
    call_command("seed_demo", "--login", verbosity=0)
    demo = UserFactory(username="demo")
    demo.set_password(PASSWORD)
    demo.save()
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Sign in to Flowboard")).to_be_visible()
    shot(page, "login")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/boards/demo/$"))
    expect(page.locator(".board-grid")).to_be_visible()
    shot(page, "demo-board")
    item = WorkItem.objects.filter(
        board__slug="demo", column__name="Backlog", discarded_at__isnull=True
    ).order_by("rank")[0]
    ready = item.board.columns.get(name="Ready")
    Column.objects.filter(pk=ready.pk).update(wip_limit=None)  # the demo's Ready is full

    response = drag(page, item.key, ready)

    assert response.status == 200
    expect(page.locator(f'ol.cards[data-column="{ready.pk}"] #card-{item.key}')).to_be_visible()
    assert Transition.objects.filter(item=item, to_column=ready, source="web").exists()


def test_a_drag_into_a_full_hard_limit_column_snaps_back_and_names_the_limit(
    page, live_server, team, shot
):
    board, columns, member, _ = team
    first, second = WorkItemFactory(board=board), WorkItemFactory(board=board)
    work_item_move(first, columns["Review"], actor=None, source="api")
    sign_in(page.context, live_server, member)
    page.goto(f"{live_server.url}/boards/{board.slug}/")

    response = drag(page, second.key, columns["Review"])

    assert response.status == 409
    expect(page.locator("#toast")).to_contain_text("Review is at its WIP limit of 1")
    backlog = f'ol.cards[data-column="{columns["Backlog"].pk}"] #card-{second.key}'
    expect(page.locator(backlog)).to_be_visible()
    shot(page, "wip-refused")
    assert WorkItem.objects.get(pk=second.pk).column == columns["Backlog"]


def test_a_gate_refuses_then_the_checklist_in_the_drawer_opens_it(page, live_server, team, shot):
    board, columns, member, _ = team
    done = columns["Done"]
    CriterionTemplateFactory(board=board, title="Privacy notice updated", track="legal",
                             gate_column=done)  # fmt: skip
    CriterionTemplateFactory(board=board, title="Support macro ready", track="support",
                             gate_column=done)  # fmt: skip
    item = WorkItemFactory(board=board)
    work_item_move(item, columns["Readiness"], actor=None, source="api", enforce=False)
    sign_in(page.context, live_server, member)
    page.goto(f"{live_server.url}/boards/{board.slug}/")

    assert drag(page, item.key, done).status == 409
    toast = page.locator("#toast")
    expect(toast).to_contain_text("Done: 2 criteria pending: Privacy notice updated")
    expect(toast).to_contain_text("Support macro ready (Support)")
    shot(page, "gate-refused")
    toast.get_by_text("Open the checklist").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_contain_text("Readiness checklist")
    for title in ("Privacy notice updated", "Support macro ready"):
        row = drawer.locator(".criterion", has_text=title)
        row.locator("input[name=evidence_url]").fill("https://wiki.example.com/" + title[:7])
        row.get_by_role("button", name="Mark met").click()
        expect(drawer.locator(".notice")).to_contain_text(f"{title} met.")
    shot(page, "checklist-met")
    drawer.get_by_role("button", name="Close the card").click()

    assert drag(page, item.key, done).status == 200
    expect(page.locator(f'ol.cards[data-column="{done.pk}"] #card-{item.key}')).to_be_visible()
    assert WorkItem.objects.get(pk=item.pk).column == done


def test_block_a_card_with_a_reason_and_see_it_in_the_history(page, live_server, team):
    board, _, member, _ = team
    item = WorkItemFactory(board=board, title="Refund webhook")
    sign_in(page.context, live_server, member)
    page.goto(f"{live_server.url}/boards/{board.slug}/")
    page.locator(f"#card-{item.key} .card-key").click()
    drawer = page.locator("#drawer")
    drawer.locator("select[name=reason]").select_option("external")
    drawer.locator("input[name=note]").fill("Waiting on the payment provider")
    drawer.get_by_role("button", name="Block", exact=True).click()
    expect(drawer.locator(".timeline")).to_contain_text(
        "Blocked, External party: Waiting on the payment provider"
    )
    expect(page.locator(f"#card-{item.key} .blocked-badge")).to_contain_text("External party")
    assert item.blocks.get().note == "Waiting on the payment provider"


def test_add_a_card_then_discard_it_and_a_viewer_cannot_move(page, browser, live_server, team,
                                                             shot):  # fmt: skip
    board, columns, member, viewer = team
    sign_in(page.context, live_server, member)
    page.goto(f"{live_server.url}/boards/{board.slug}/")
    head = page.locator(".column-head", has_text="Backlog")
    head.get_by_text("+ Add").click()
    head.locator("input[name=title]").fill("Export invoices to CSV")
    head.get_by_role("button", name="Add card").click()
    card = page.locator(".card", has_text="Export invoices to CSV")
    expect(card).to_be_visible()
    item = WorkItem.objects.get(title="Export invoices to CSV")
    card.locator(".card-key").click()
    drawer = page.locator("#drawer")
    drawer.get_by_text("Discard this card…").click()
    drawer.locator("input[placeholder='Why is it discarded?']").fill("Duplicate of the API export")
    drawer.get_by_role("button", name="Discard").click()
    expect(drawer.locator(".notice")).to_contain_text("discarded")
    expect(page.locator(f"#card-{item.key}")).to_have_count(0)
    assert WorkItem.objects.get(pk=item.pk).discard_reason == "Duplicate of the API export"

    other = WorkItemFactory(board=board)
    viewing = browser.new_context(viewport={"width": 1400, "height": 900})
    sign_in(viewing, live_server, viewer)
    view = viewing.new_page()
    view.goto(f"{live_server.url}/boards/{board.slug}/")
    expect(view.locator(f"#card-{other.key}")).to_be_visible()
    expect(view.locator(".is-draggable")).to_have_count(0)
    expect(view.locator(".move-to")).to_have_count(0)
    shot(view, "viewer-board")
    drag_to(view, other.key, columns["Ready"])
    view.wait_for_timeout(500)
    assert WorkItem.objects.get(pk=other.pk).column == columns["Backlog"]
    viewing.close()


def test_a_move_in_one_browser_appears_in_the_other_without_a_reload(page, browser, live_server,
                                                                     team):  # fmt: skip
    board, columns, member, viewer = team
    item = WorkItemFactory(board=board)
    sign_in(page.context, live_server, member)
    page.goto(f"{live_server.url}/boards/{board.slug}/")
    watching = browser.new_context()
    sign_in(watching, live_server, viewer)
    other = watching.new_page()
    other.goto(f"{live_server.url}/boards/{board.slug}/")
    ready = f'ol.cards[data-column="{columns["Ready"].pk}"] #card-{item.key}'
    expect(other.locator(ready)).to_have_count(0)

    page.locator(f"#card-{item.key} .move-to").click()
    page.locator("#move-menu").get_by_role("menuitem", name="Ready").click()

    expect(page.locator(ready)).to_be_visible()
    expect(other.locator(ready)).to_be_visible(timeout=10_000)  # polling every 4 s
    watching.close()


def test_the_dashboard_draws_every_chart_and_a_csv_has_rows(page, live_server, shot):
    call_command("seed_demo", verbosity=0)
    from boards.models import Board

    demo = Board.objects.get(slug="demo")
    refresh.recompute_board(demo)
    summary.refresh_summary(demo)
    lead = UserFactory(username="olga")
    MembershipFactory(board=demo, user=lead, role=BoardMembership.Role.OPS_LEAD)
    sign_in(page.context, live_server, lead)
    page.goto(f"{live_server.url}/boards/demo/dashboard/")
    cards = page.locator(".chart-card[data-chart]")
    count = cards.count()
    assert count == 11
    for index in range(count):
        expect(cards.nth(index)).to_have_attribute("data-drawn", "1", timeout=15_000)
    page.fill("#forecast input[name=items]", "20")
    page.locator("#forecast form[data-question=when] button").click()
    expect(page.locator("#forecast .forecast-readings")).to_contain_text("85%")
    shot(page, "dashboard", full_page=True)
    with page.expect_download() as download:
        page.locator('.chart-card[data-chart="cfd"] .chart-csv').click()
    text = Path(download.value.path()).read_text().splitlines()
    assert text[0].startswith("day,Backlog") and len(text) > 30
