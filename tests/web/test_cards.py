"""Changing cards from the board: every change through its service, refusals in words, and the
drawer's checklist, blocks and history."""

import pytest
from django.urls import reverse

from boards.models import Column, Transition, WorkItem
from boards.services import work_item_move, work_item_update
from readiness.models import AcceptanceCriterion
from tests.factories import CriterionTemplateFactory, WorkItemFactory

JSON = {"HTTP_ACCEPT": "application/json"}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def web(client, member):
    client.force_login(member)
    return client


def move(client, board, item, column, **extra):
    data = {"to_column": column.pk, **extra}
    return client.post(reverse("web:card-move", args=[board.slug, item.key]), data, **JSON)


def test_a_drag_moves_the_card_through_the_service(web, board, col, member):
    item = WorkItemFactory(board=board)
    response = move(web, board, item, col["Ready"], version=item.version)
    assert response.status_code == 200
    body = response.json()
    assert body["moved"] and body["column"] == "Ready" and body["version"] == 2
    transition = item.transitions.get(to_column=col["Ready"])
    assert (transition.source, transition.actor) == (Transition.Source.WEB, member)


def test_a_drop_between_two_cards_places_it_between_them(web, board, col):
    a, b, c = (WorkItemFactory(board=board) for _ in range(3))
    for item in (a, b):
        work_item_move(item, col["Ready"], actor=None, source="api")
    move(web, board, c, col["Ready"], after=a.key, before=b.key)
    order = list(
        WorkItem.objects.filter(column=col["Ready"]).order_by("rank").values_list("key", flat=True)
    )
    assert order == [a.key, c.key, b.key]
    move(web, board, a, col["Ready"], after=b.key)  # a reorder inside the column
    order = list(
        WorkItem.objects.filter(column=col["Ready"]).order_by("rank").values_list("key", flat=True)
    )
    assert order == [c.key, b.key, a.key]


def test_a_move_over_a_hard_limit_is_refused_with_the_limit_named(web, board, col):
    Column.objects.filter(pk=col["Ready"].pk).update(wip_limit=1, wip_policy="hard")
    work_item_move(WorkItemFactory(board=board), col["Ready"], actor=None, source="api")
    item = WorkItemFactory(board=board)
    response = move(web, board, item, col["Ready"])
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "wip_limit"
    assert body["detail"] == "Ready is at its WIP limit of 1 (1 item in it)."


def test_a_gated_move_lists_the_pending_criteria_in_words(web, board, col):
    done = col["Done"]
    CriterionTemplateFactory(
        board=board, title="Privacy notice updated", track="legal", gate_column=done
    )
    CriterionTemplateFactory(
        board=board, title="Support macro ready", track="support", gate_column=done
    )
    item = WorkItemFactory(board=board)
    work_item_move(item, col["Readiness"], actor=None, source="api", enforce=False)

    response = move(web, board, item, done)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "gate_blocked"
    assert body["detail"] == (
        "Done: 2 criteria pending: Privacy notice updated (Legal & compliance), "
        "Support macro ready (Support)"
    )
    assert body["checklist_url"] == reverse("web:card", args=[board.slug, item.key])
    assert item.gate_refusals.count() == 1


def test_a_move_from_a_stale_view_says_someone_else_moved_it(web, board, col):
    item = WorkItemFactory(board=board)
    loaded_version = item.version
    work_item_move(item, col["Ready"], actor=None, source="api")  # someone else
    response = move(web, board, item, col["Build"], version=loaded_version)
    assert response.status_code == 409
    assert "moved or changed by someone else" in response.json()["detail"]


@pytest.mark.parametrize("column", ["", "abc", "999999"])
def test_a_move_to_a_column_that_isnt_the_boards_is_a_400(web, board, column):
    item = WorkItemFactory(board=board)
    response = web.post(
        reverse("web:card-move", args=[board.slug, item.key]), {"to_column": column}, **JSON
    )
    assert response.status_code == 400 and "is not a column of" in response.json()["detail"]


def test_move_to_without_scripts_redirects_with_a_message(web, board, col):
    item = WorkItemFactory(board=board)
    response = web.post(
        reverse("web:card-move", args=[board.slug, item.key]),
        {"to_column": col["Ready"].pk},
        follow=True,
    )
    assert f"{item.key} moved to Ready." in response.content.decode()


def test_a_card_is_added_at_the_top_of_the_first_column_with_its_criteria(web, board, col):
    CriterionTemplateFactory(board=board, title="Docs", track="docs")
    existing = WorkItemFactory(board=board)
    response = web.post(
        reverse("web:card-create", args=[board.slug]),
        {"title": "Export to CSV", "kind": "feature", "class_of_service": "fixed_date",
         "due_date": "2026-12-24", "column": col["Backlog"].pk},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 204 and response["HX-Trigger"] == "board-changed"
    new = WorkItem.objects.get(title="Export to CSV")
    assert new.class_of_service == "fixed_date" and str(new.due_date) == "2026-12-24"
    assert list(new.criteria.values_list("title", flat=True)) == ["Docs"]
    top = WorkItem.objects.filter(column=col["Backlog"]).order_by("rank").first()
    assert top == new and existing.pk != new.pk


def test_a_card_cannot_be_added_to_a_development_column(web, board, col):
    response = web.post(
        reverse("web:card-create", args=[board.slug]),
        {"title": "Sneaky", "kind": "feature", "class_of_service": "standard",
         "column": col["Build"].pk},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 422
    assert "Cards are added to Backlog or an upstream column" in response.content.decode()


def test_a_card_without_a_title_is_refused_in_words(web, board, col):
    response = web.post(
        reverse("web:card-create", args=[board.slug]),
        {
            "title": "",
            "kind": "feature",
            "class_of_service": "standard",
            "column": col["Backlog"].pk,
        },
        **HTMX,
    )
    assert response.status_code == 422 and "This field is required" in response.content.decode()


def drawer_post(client, board, item, name, data, *args):
    url = reverse(f"web:{name}", args=[board.slug, item.key, *args])
    return client.post(url, data, **HTMX)


def test_discarding_needs_a_reason(web, board):
    item = WorkItemFactory(board=board)
    refused = drawer_post(web, board, item, "card-discard", {"reason": ""})
    assert refused.status_code == 422 and "needs a reason" in refused.content.decode()
    done = drawer_post(web, board, item, "card-discard", {"reason": "Duplicate of FB-9"})
    assert done.status_code == 200 and done["HX-Trigger"] == "board-changed"
    item.refresh_from_db()
    assert item.discard_reason == "Duplicate of FB-9"


def test_editing_from_a_stale_drawer_is_refused_clearly(web, board):
    item = WorkItemFactory(board=board, title="Old")
    form = {"edit-title": "Mine", "edit-kind": "feature", "edit-class_of_service": "standard",
            "edit-version": item.version}  # fmt: skip
    work_item_update(item, actor=None, title="Theirs")
    response = drawer_post(web, board, item, "card-edit", form)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    item.refresh_from_db()
    assert item.title == "Theirs"
    form["edit-version"] = item.version
    assert drawer_post(web, board, item, "card-edit", form).status_code == 200
    item.refresh_from_db()
    assert item.title == "Mine"


@pytest.fixture
def criterion(board):
    CriterionTemplateFactory(board=board, title="Support macro ready", track="support")
    return WorkItemFactory(board=board).criteria.get()


def test_the_checklist_meets_with_an_optional_evidence_link(web, board, criterion):
    item = criterion.item
    bad = drawer_post(web, board, item, "criterion-change", {"evidence_url": "not a link"},
                      criterion.pk, "meet")  # fmt: skip
    assert bad.status_code == 422 and "Enter a valid URL" in bad.content.decode()
    ok = drawer_post(web, board, item, "criterion-change", {"evidence_url": "https://wiki.example.com/macro"},
                     criterion.pk, "meet")  # fmt: skip
    assert ok.status_code == 200 and "Support macro ready met." in ok.content.decode()
    criterion.refresh_from_db()
    assert (criterion.status, criterion.evidence_url) == ("met", "https://wiki.example.com/macro")


def test_waiving_needs_a_reason_and_reopening_keeps_history(web, board, criterion):
    item = criterion.item
    refused = drawer_post(
        web, board, item, "criterion-change", {"reason": ""}, criterion.pk, "waive"
    )
    assert refused.status_code == 422
    drawer_post(
        web, board, item, "criterion-change", {"reason": "Internal only"}, criterion.pk, "waive"
    )
    page = drawer_post(
        web, board, item, "criterion-change", {"reason": "Now public"}, criterion.pk, "reopen"
    )
    criterion.refresh_from_db()
    assert criterion.status == "pending"
    text = page.content.decode()
    assert "Waived Support macro ready: Internal only" in text
    assert "Reopened Support macro ready: Now public" in text


def test_an_unknown_criterion_action_is_a_404(web, board, criterion):
    url = reverse(
        "web:criterion-change", args=[board.slug, criterion.item.key, criterion.pk, "delete"]
    )
    assert web.post(url, {}, **HTMX).status_code == 404
    assert AcceptanceCriterion.objects.filter(pk=criterion.pk).exists()


def test_a_criterion_of_the_cards_own_is_added(web, board, col):
    item = WorkItemFactory(board=board)
    data = {"title": "Legal sign-off", "track": "legal", "gate_column": col["Done"].pk,
            "required": "on"}  # fmt: skip
    response = drawer_post(web, board, item, "criterion-add", data)
    assert response.status_code == 200
    assert item.criteria.get().title == "Legal sign-off"


def test_blocking_and_unblocking_keep_the_reason_in_history(web, board, criterion, member):
    item = criterion.item
    blocked = drawer_post(
        web,
        board,
        item,
        "card-block",
        {"reason": "external", "note": "Vendor API down", "criterion": criterion.pk},
    )
    assert blocked.status_code == 200
    block = item.blocks.get()
    assert (block.reason, block.note, block.criterion, block.started_by) == (
        "external", "Vendor API down", criterion, member)  # fmt: skip
    page = drawer_post(web, board, item, "card-unblock", {}).content.decode()
    assert "Blocked, External party: Vendor API down (holds up Support macro ready)" in page
    assert "Unblocked" in page
    block.refresh_from_db()
    assert block.ended_at is not None


def test_the_drawer_shows_the_whole_history_with_who(web, board, col, member):
    done = col["Done"]
    CriterionTemplateFactory(board=board, title="Runbook", track="operations", gate_column=done)
    item = WorkItemFactory(board=board, external_url="https://jira.example.com/browse/PAY-9",
                           external_source="jira", external_key="PAY-9")  # fmt: skip
    work_item_move(item, col["Readiness"], actor=member, source="web", enforce=False)
    move(web, board, item, done)  # refused at the gate
    page = web.get(reverse("web:card", args=[board.slug, item.key]), **HTMX).content.decode()
    assert "Created in Backlog" in page
    assert "Moved from Backlog to Readiness" in page and member.username in page
    assert "Refused at the Done gate: Runbook (Operations) pending" in page
    assert 'href="https://jira.example.com/browse/PAY-9"' in page


def test_a_viewer_opens_the_drawer_without_any_form(client, board, criterion):
    from boards.models import BoardMembership
    from tests.factories import MembershipFactory, UserFactory

    viewer = UserFactory(username="vic")
    MembershipFactory(board=board, user=viewer, role=BoardMembership.Role.VIEWER)
    client.force_login(viewer)
    page = client.get(
        reverse("web:card", args=[board.slug, criterion.item.key]), **HTMX
    ).content.decode()
    assert "Support macro ready" in page and "<form" not in page
    refused = drawer_post(client, board, criterion.item, "card-discard", {"reason": "x"})
    assert refused.status_code == 403
