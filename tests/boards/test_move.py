"""The move service: every rule of a move, as tables of cases."""

import datetime as dt

import pytest
from django.utils import timezone

from boards.models import Column, Transition, WorkItem
from boards.services import (
    work_item_create,
    work_item_discard,
    work_item_move,
    work_item_reorder,
)
from flowboard.errors import (
    GateBlocked,
    IdempotencyConflict,
    InvalidInput,
    InvalidMove,
    ItemDiscarded,
    StaleVersion,
    WipLimitExceeded,
)
from readiness.models import AcceptanceCriterion, GateRefusal
from readiness.services import criterion_meet, criterion_waive
from tests.factories import BoardFactory, CriterionTemplateFactory, WorkItemFactory

API = Transition.Source.API
T0 = timezone.now() - dt.timedelta(days=30)


def at(day: float) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


def walk(item, col, *names, start_day=1):
    """Move ``item`` through the named columns one day apart, without gates or limits."""
    for offset, name in enumerate(names):
        work_item_move(
            item, col[name], actor=None, source=API, at=at(start_day + offset), enforce=False
        )


@pytest.fixture
def item(board):
    return WorkItemFactory(board=board, created_at=at(0))


# (path walked before, target, expected started day, expected delivered day)
MOVES = [
    pytest.param([], "Ready", 1, None, id="forward one column starts the cycle"),
    pytest.param([], "Build", 1, None, id="skip the commitment column: it inherits the date"),
    pytest.param(
        ["Ready", "Build"], "Backlog", None, None, id="back before commitment: not started"
    ),
    pytest.param(
        ["Ready", "Build"], "Ready", 1, None, id="back to commitment keeps its first date"
    ),
    pytest.param(["Ready"], "Done", 1, 2, id="skip to delivery delivers"),
    pytest.param(["Ready", "Done"], "Operating", 1, 2, id="past delivery keeps delivered date"),
    pytest.param(["Ready", "Done"], "Review", 1, None, id="back from delivery reopens"),
    pytest.param(["Build", "Review"], "Ready", 3, None, id="back below a skip re-dates commitment"),
]


@pytest.mark.parametrize(("walked", "target", "started_day", "delivered_day"), MOVES)
def test_move_updates_column_and_flow_times(item, col, walked, target, started_day, delivered_day):
    walk(item, col, *walked)
    day = 1 + len(walked)
    result = work_item_move(item, col[target], actor=None, source=API, at=at(day))

    item.refresh_from_db()
    assert result.transition is not None
    assert item.column == col[target]
    assert item.started_at == (at(started_day) if started_day else None)
    assert item.delivered_at == (at(delivered_day) if delivered_day else None)
    last = Transition.objects.filter(item=item).order_by("-at", "-id").first()
    assert (last.to_column, last.at, last.source) == (col[target], at(day), API)


def test_move_writes_one_transition_from_the_previous_column(item, col):
    work_item_move(item, col["Build"], actor=None, source=API, at=at(1))
    rows = list(Transition.objects.filter(item=item).values_list("from_column", "to_column"))
    assert rows == [(None, col["Backlog"].pk), (col["Backlog"].pk, col["Build"].pk)]


def test_move_into_the_same_column_writes_nothing(item, col):
    version = item.version
    result = work_item_move(item, col["Backlog"], actor=None, source=API, at=at(1))
    item.refresh_from_db()
    assert result.transition is None
    assert Transition.objects.filter(item=item).count() == 1
    assert item.version == version


# (policy, limit, items already there, outcome)
WIP_CASES = [
    pytest.param("hard", 2, 1, "moved", id="hard limit with room"),
    pytest.param("hard", 2, 2, "refused", id="hard limit reached"),
    pytest.param("soft", 2, 1, "moved", id="soft limit with room"),
    pytest.param("soft", 2, 2, "flagged", id="soft limit reached: allowed and flagged"),
    pytest.param("hard", None, 5, "moved", id="no limit"),
]


@pytest.mark.parametrize(("policy", "limit", "already", "outcome"), WIP_CASES)
def test_wip_limits(board, col, policy, limit, already, outcome):
    build = col["Build"]
    Column.objects.filter(pk=build.pk).update(wip_limit=limit, wip_policy=policy)
    for _ in range(already):
        walk(WorkItemFactory(board=board, created_at=at(0)), col, "Build")
    item = WorkItemFactory(board=board, created_at=at(0))

    if outcome == "refused":
        with pytest.raises(WipLimitExceeded) as error:
            work_item_move(item, build, actor=None, source=API, at=at(2))
        assert error.value.detail == {
            "column": "Build",
            "column_id": build.pk,
            "limit": limit,
            "count": already,
        }
        assert "Build is at its WIP limit of 2 (2 items in it)" in error.value.message
        assert Transition.objects.filter(item=item).count() == 1
        item.refresh_from_db()
        assert item.column == col["Backlog"]
    else:
        result = work_item_move(item, build, actor=None, source=API, at=at(2))
        assert result.soft_limit_exceeded is (outcome == "flagged")
        item.refresh_from_db()
        assert item.column == build


def test_discarded_items_do_not_count_against_wip(board, col):
    Column.objects.filter(pk=col["Build"].pk).update(wip_limit=1, wip_policy="hard")
    first = WorkItemFactory(board=board, created_at=at(0))
    walk(first, col, "Build")
    work_item_discard(first, actor=None, reason="Duplicate", at=at(2))
    second = WorkItemFactory(board=board, created_at=at(0))
    work_item_move(second, col["Build"], actor=None, source=API, at=at(3))


@pytest.fixture
def gated(board, col):
    """Two required criteria on Done (support, legal) and one optional (docs)."""
    CriterionTemplateFactory(board=board, title="Support trained", track="support")
    CriterionTemplateFactory(board=board, title="Legal sign-off", track="legal")
    CriterionTemplateFactory(board=board, title="Docs", track="docs", required=False)
    return board


def _criteria(item):
    return {c.title: c for c in AcceptanceCriterion.objects.filter(item=item)}


# (what happens to each criterion, expected outcome)
GATE_CASES = [
    pytest.param({}, "blocked", id="all pending"),
    pytest.param({"Support trained": "met"}, "blocked", id="one of two required met"),
    pytest.param({"Support trained": "met", "Legal sign-off": "met"}, "passes", id="all met"),
    pytest.param(
        {"Support trained": "met", "Legal sign-off": "waived"}, "passes", id="met and waived"
    ),
    pytest.param(
        {"Support trained": "waived", "Legal sign-off": "waived"}, "passes", id="all waived"
    ),
]


@pytest.mark.parametrize(("resolutions", "outcome"), GATE_CASES)
@pytest.mark.parametrize("target", ["Done", "Operating"], ids=["into gate", "past gate"])
def test_gates(gated, col, resolutions, outcome, target):
    item = WorkItemFactory(board=gated, created_at=at(0))
    walk(item, col, "Ready", "Build", "Readiness")
    criteria = _criteria(item)
    for title, resolution in resolutions.items():
        if resolution == "met":
            criterion_meet(criteria[title], actor=None, evidence_url="https://wiki.example.com/x")
        else:
            criterion_waive(criteria[title], actor=None, reason="Not customer-facing")

    if outcome == "passes":
        work_item_move(item, col[target], actor=None, source=API)
        item.refresh_from_db()
        assert item.column == col[target]
        assert not GateRefusal.objects.filter(item=item).exists()
        return
    with pytest.raises(GateBlocked) as error:
        work_item_move(item, col[target], actor=None, source=API)
    pending = sorted(t for t in ("Support trained", "Legal sign-off") if t not in resolutions)
    assert sorted(c["title"] for c in error.value.detail["unmet"]) == pending
    assert error.value.detail["gates"] == ["Done"]
    item.refresh_from_db()
    assert item.column == col["Readiness"]
    refusal = GateRefusal.objects.get(item=item)
    assert refusal.gate_column == col["Done"]
    assert refusal.to_column == col[target]
    assert sorted(c["title"] for c in refusal.unmet) == pending
    assert {c["track"] for c in refusal.unmet} <= {"support", "legal"}


def test_gate_error_names_criteria_and_tracks(gated, col):
    item = WorkItemFactory(board=gated, created_at=at(0))
    with pytest.raises(GateBlocked) as error:
        work_item_move(item, col["Done"], actor=None, source=API)
    assert error.value.message == (
        f"{item.key} cannot enter Done: 2 required criteria are pending at Done "
        "(Legal & compliance, Support)."
    )
    assert error.value.http_status == 409


def test_backward_moves_skip_gates(gated, col):
    item = WorkItemFactory(board=gated, created_at=at(0))
    walk(item, col, "Ready", "Done", "Operating")  # history imported without checks
    work_item_move(item, col["Review"], actor=None, source=API)
    item.refresh_from_db()
    assert item.column == col["Review"]
    assert item.delivered_at is None


# (kind, criteria the item gets)
KIND_CASES = [
    pytest.param("feature", {"Support trained", "Legal sign-off"}, id="feature gets both"),
    pytest.param("defect", {"Support trained"}, id="defect gets only the all-kinds criterion"),
    pytest.param("risk", {"Support trained", "Legal sign-off"}, id="risk gets the legal one"),
]


@pytest.mark.parametrize(("kind", "expected"), KIND_CASES)
def test_criteria_that_apply_to_some_kinds(board, col, kind, expected):
    CriterionTemplateFactory(board=board, title="Support trained", track="support")
    CriterionTemplateFactory(
        board=board, title="Legal sign-off", track="legal", applies_to_kinds=["feature", "risk"]
    )
    item = WorkItemFactory(board=board, kind=kind, created_at=at(0))
    assert set(_criteria(item)) == expected
    for criterion in _criteria(item).values():
        criterion_meet(criterion, actor=None, evidence_url="https://wiki.example.com/e")
    work_item_move(item, col["Done"], actor=None, source=API)


def test_inactive_templates_are_not_copied(board):
    CriterionTemplateFactory(board=board, title="Old rule", active=False)
    item = WorkItemFactory(board=board)
    assert not AcceptanceCriterion.objects.filter(item=item).exists()


def test_discarded_items_cannot_move(item, col):
    work_item_discard(item, actor=None, reason="Out of scope", at=at(1))
    with pytest.raises(ItemDiscarded):
        work_item_move(item, col["Ready"], actor=None, source=API)
    assert Transition.objects.filter(item=item).count() == 1


def test_discard_needs_a_reason_and_happens_once(item):
    with pytest.raises(InvalidInput):
        work_item_discard(item, actor=None, reason="  ")
    work_item_discard(item, actor=None, reason="Duplicate of FB-2")
    with pytest.raises(ItemDiscarded):
        work_item_discard(item, actor=None, reason="again")


def test_column_of_another_board_is_refused(item):
    other = BoardFactory()
    with pytest.raises(InvalidMove, match="another board"):
        work_item_move(item, other.columns.first(), actor=None, source=API)


def test_stale_version_is_refused(item, col):
    version = item.version
    work_item_move(item, col["Ready"], actor=None, source=API, at=at(1))
    stale = WorkItem.objects.get(pk=item.pk)
    stale.version = version
    with pytest.raises(StaleVersion) as error:
        work_item_move(stale, col["Build"], actor=None, source=API, expected_version=version)
    assert error.value.detail == {"expected_version": version, "current_version": version + 1}


def test_idempotency_key_replays_the_first_move(item, col):
    first = work_item_move(item, col["Build"], actor=None, source=API, idempotency_key="evt-1")
    again = work_item_move(item, col["Build"], actor=None, source=API, idempotency_key="evt-1")
    assert again.replayed and again.transition == first.transition
    assert Transition.objects.filter(item=item).count() == 2


def test_idempotency_key_of_another_item_is_refused(board, item, col):
    work_item_move(item, col["Build"], actor=None, source=API, idempotency_key="evt-1")
    other = WorkItemFactory(board=board)
    with pytest.raises(IdempotencyConflict, match="already used to move FB-"):
        work_item_move(other, col["Build"], actor=None, source=API, idempotency_key="evt-1")


def test_a_move_dated_before_the_last_move_is_refused(item, col):
    work_item_move(item, col["Build"], actor=None, source=API, at=at(5))
    with pytest.raises(InvalidInput, match="would come before its last move"):
        work_item_move(item, col["Review"], actor=None, source=API, at=at(4))


@pytest.mark.parametrize(
    "when",
    [timezone.now() + dt.timedelta(hours=1), dt.datetime(2026, 1, 1)],
    ids=["future", "naive"],
)
def test_bad_times_are_refused(item, col, when):
    with pytest.raises(InvalidInput):
        work_item_move(item, col["Build"], actor=None, source=API, at=when)


def test_a_time_a_little_ahead_of_ours_is_taken_as_now(item, col):
    ahead = timezone.now() + dt.timedelta(minutes=2)
    result = work_item_move(item, col["Build"], actor=None, source=API, at=ahead)
    assert result.transition.at <= timezone.now()


def test_a_discard_dated_before_the_last_move_is_refused(item, col):
    work_item_move(item, col["Build"], actor=None, source=API, at=at(5))
    with pytest.raises(InvalidInput, match="would come before its last move"):
        work_item_discard(item, actor=None, reason="Dropped", at=at(3))
    item.refresh_from_db()
    assert item.discarded_at is None


def test_ranks_place_items_without_renumbering(board, col):
    a, b, c = (WorkItemFactory(board=board) for _ in range(3))
    ranks_before = {i.pk: WorkItem.objects.get(pk=i.pk).rank for i in (a, b)}
    assert ranks_before[a.pk] < ranks_before[b.pk]
    work_item_move(c, col["Backlog"], actor=None, source=API)  # same column: nothing
    work_item_move(c, col["Build"], actor=None, source=API)
    work_item_move(c, col["Backlog"], actor=None, source=API, before=b, after=a)
    ranks = dict(WorkItem.objects.filter(board=board).values_list("pk", "rank"))
    assert ranks[a.pk] < ranks[c.pk] < ranks[b.pk]
    assert {k: ranks[k] for k in ranks_before} == ranks_before


def test_create_into_a_gated_column_is_refused(gated, col):
    with pytest.raises(GateBlocked):
        work_item_create(
            gated, title="Straight to done", actor=None, source=API, column=col["Done"]
        )
    assert not WorkItem.objects.filter(title="Straight to done").exists()


def test_create_numbers_keys_per_board(board):
    first, second = WorkItemFactory(board=board), WorkItemFactory(board=board)
    assert (first.key, second.key) == ("FB-1", "FB-2")


def test_reordering_inside_a_column_writes_one_rank_and_no_transition(board):
    a, b, c = (WorkItemFactory(board=board) for _ in range(3))
    before = {i.pk: WorkItem.objects.get(pk=i.pk).rank for i in (a, b)}
    work_item_reorder(c, before=a)  # to the top of Backlog
    ranks = dict(WorkItem.objects.filter(board=board).values_list("pk", "rank"))
    assert ranks[c.pk] < ranks[a.pk] < ranks[b.pk]
    assert {k: ranks[k] for k in before} == before
    assert Transition.objects.filter(item=c).count() == 1  # only its creation
