"""The rules every write shares, as tables of cases: honest idempotency, the one time rule, and
lengths and shapes refused with the field and its limit (never a database error)."""

import datetime as dt

import pytest
from django.utils import timezone

from boards import setup
from boards.models import Transition
from boards.services import (
    block_end,
    block_start,
    work_item_create,
    work_item_discard,
    work_item_move,
    work_item_update,
)
from flowboard.errors import IdempotencyConflict, InvalidInput, StaleVersion
from readiness.models import AcceptanceCriterion, CriterionChange
from readiness.services import criterion_add, criterion_meet, criterion_reopen, criterion_waive
from tests.factories import CriterionTemplateFactory, WorkItemFactory

NOW = timezone.now()
CREATED = NOW - dt.timedelta(days=20)


def days(n: float) -> dt.datetime:
    return CREATED + dt.timedelta(days=n)


@pytest.fixture
def item(board):
    CriterionTemplateFactory(board=board, title="Support trained")
    return WorkItemFactory(board=board, created_at=CREATED)


# --- idempotency -----------------------------------------------------------------------------

# (first request, second request, outcome of the second)
IDEMPOTENCY = [
    pytest.param(("Build", None), ("Build", None), "replay", id="same key, same request"),
    pytest.param(("Build", None), ("Review", None), "conflict", id="same key, another target"),
    pytest.param(("Build", days(5)), ("Build", days(6)), "conflict", id="same key, another time"),
    pytest.param(("Build", days(5)), ("Build", days(5)), "replay", id="same key, same time"),
    pytest.param(("Build", None), ("other", None), "conflict", id="same key, another item"),
]


@pytest.mark.parametrize(("first", "second", "outcome"), IDEMPOTENCY)
def test_an_idempotency_key_never_hides_a_different_request(
    board, col, item, first, second, outcome
):
    other = WorkItemFactory(board=board, created_at=CREATED)
    target, when = first
    work_item_move(item, col[target], actor=None, source="api", at=when, idempotency_key="K1")
    target, when = second
    moving = other if target == "other" else item
    column = col["Build"] if target == "other" else col[target]

    if outcome == "replay":
        result = work_item_move(
            moving, column, actor=None, source="api", at=when, idempotency_key="K1"
        )
        assert result.replayed and result.transition.to_column == col[first[0]]
    else:
        with pytest.raises(IdempotencyConflict, match="K1"):
            work_item_move(moving, column, actor=None, source="api", at=when, idempotency_key="K1")
    assert Transition.objects.filter(idempotency_key="K1").count() == 1
    item.refresh_from_db()
    assert item.column == col["Build"]


def test_an_idempotency_conflict_is_a_422_for_the_api():
    assert IdempotencyConflict("x").http_status == 422


# --- the one time rule -----------------------------------------------------------------------

NAIVE = dt.datetime(2026, 1, 1, 9, 0)
FUTURE = NOW + dt.timedelta(days=1)
BEFORE_CREATION = CREATED - dt.timedelta(days=1)


def move(item, col, at):
    return work_item_move(item, col["Build"], actor=None, source="api", at=at)


def move_after_a_later_move(item, col, at):
    work_item_move(item, col["Ready"], actor=None, source="api", at=days(10))
    return work_item_move(item, col["Build"], actor=None, source="api", at=at)


def create(item, col, at):
    return work_item_create(item.board, title="t", actor=None, source="api", created_at=at)


def discard(item, col, at):
    return work_item_discard(item, actor=None, reason="not needed", at=at)


def discard_before_last_move(item, col, at):
    work_item_move(item, col["Ready"], actor=None, source="api", at=days(10))
    return work_item_discard(item, actor=None, reason="not needed", at=at)


def block(item, col, at):
    return block_start(item, actor=None, reason="external", at=at)


def block_after_a_block(item, col, at):
    block_start(item, actor=None, reason="external", at=days(5))
    block_end(item, actor=None, at=days(10))
    return block_start(item, actor=None, reason="decision", at=at)


def unblock(item, col, at):
    block_start(item, actor=None, reason="external", at=days(10))
    return block_end(item, actor=None, at=at)


def meet(item, col, at):
    return criterion_meet(item.criteria.get(), actor=None, at=at)


def waive(item, col, at):
    return criterion_waive(item.criteria.get(), actor=None, reason="internal tool", at=at)


def reopen_before_its_meeting(item, col, at):
    criterion = item.criteria.get()
    criterion_meet(criterion, actor=None, at=days(10))
    return criterion_reopen(criterion, actor=None, at=at)


def add_criterion(item, col, at):
    return criterion_add(
        item, title="Legal ok", track="legal", gate_column=col["Done"], actor=None, at=at
    )


# (service, a bad time, the message)
BAD_TIMES = [
    *(
        pytest.param(service, NAIVE, "has no time zone", id=f"{service.__name__}: naive")
        for service in (move, create, discard, block, unblock, meet, waive, add_criterion)
    ),
    *(
        pytest.param(service, FUTURE, "in the future", id=f"{service.__name__}: future")
        for service in (move, create, discard, block, unblock, meet, waive, add_criterion)
    ),
    pytest.param(move, BEFORE_CREATION, "before its last move", id="move before creation"),
    pytest.param(move_after_a_later_move, days(5), "before its last move", id="move back dated"),
    pytest.param(discard_before_last_move, days(5), "before its last move", id="discard"),
    pytest.param(block, BEFORE_CREATION, "before its creation", id="block before creation"),
    pytest.param(block_after_a_block, days(7), "end of its last block", id="block overlaps"),
    pytest.param(unblock, days(9), "before its start", id="unblock before the block"),
    pytest.param(meet, BEFORE_CREATION, "before the item's creation", id="meet before item"),
    pytest.param(waive, BEFORE_CREATION, "before the item's creation", id="waive before item"),
    pytest.param(
        reopen_before_its_meeting, days(9), "before its last change", id="reopen back dated"
    ),
    pytest.param(add_criterion, BEFORE_CREATION, "before the item", id="add before item"),
]


@pytest.mark.parametrize(("service", "when", "message"), BAD_TIMES)
def test_every_dated_change_follows_the_one_time_rule(item, col, service, when, message):
    transitions, changes = Transition.objects.count(), CriterionChange.objects.count()
    with pytest.raises(InvalidInput, match=message):
        service(item, col, when)
    assert CriterionChange.objects.count() <= changes + 1  # only the setup's own change
    assert Transition.objects.count() <= transitions + 1


def test_a_client_clock_a_little_ahead_is_taken_as_now(item, col):
    ahead = timezone.now() + dt.timedelta(minutes=2)
    result = work_item_move(item, col["Build"], actor=None, source="api", at=ahead)
    assert result.transition.at <= timezone.now()


# --- lengths and shapes ----------------------------------------------------------------------

# (what, call, the field named, its limit)
LONG = [
    pytest.param(
        lambda item, col: work_item_move(
            item, col["Build"], actor=None, source="api", idempotency_key="k" * 201
        ),
        "idempotency_key",
        200,
        id="idempotency key",
    ),
    pytest.param(
        lambda item, col: work_item_create(item.board, title="t" * 301, actor=None, source="api"),
        "title",
        300,
        id="title on create",
    ),
    pytest.param(
        lambda item, col: work_item_update(item, actor=None, title="t" * 301),
        "title",
        300,
        id="title on update",
    ),
    pytest.param(
        lambda item, col: work_item_discard(item, actor=None, reason="r" * 301),
        "discard_reason",
        300,
        id="discard reason",
    ),
    pytest.param(
        lambda item, col: work_item_create(
            item.board, title="t", key="K" * 41, actor=None, source="api"
        ),
        "key",
        40,
        id="key",
    ),
    pytest.param(
        lambda item, col: work_item_update(item, actor=None, external_key="x" * 121),
        "external_key",
        120,
        id="external key",
    ),
    pytest.param(
        lambda item, col: work_item_update(
            item, actor=None, external_url="https://x.example.com/" + "a" * 500
        ),
        "external_url",
        500,
        id="external link",
    ),
    pytest.param(
        lambda item, col: setup.board_create(
            name="B",
            slug="b",
            key_prefix="B",
            columns=[setup.ColumnSpec("A" * 81), setup.ColumnSpec("Done")],
            commitment="A" * 81,
            delivery="Done",
        ),
        "name",
        80,
        id="column name on create",
    ),
    pytest.param(
        lambda item, col: setup.board_update(
            item.board,
            columns=[
                setup.ColumnSpec("B" * 81, id=c.id) if c.name == "Build" else c
                for c in setup.columns_of(item.board)
            ],
        ),
        "name",
        80,
        id="column name on update",
    ),  # fmt: skip
    pytest.param(
        lambda item, col: criterion_add(
            item, title="c" * 201, track="legal", gate_column=col["Done"], actor=None
        ),
        "title",
        200,
        id="criterion title",
    ),
    pytest.param(
        lambda item, col: criterion_meet(
            item.criteria.get(), actor=None, evidence_url="https://x.example.com/" + "a" * 500
        ),
        "evidence_url",
        500,
        id="evidence link",
    ),
]


@pytest.mark.parametrize(("call", "field", "limit"), LONG)
def test_a_value_too_long_is_refused_with_its_field_and_limit(item, col, call, field, limit):
    with pytest.raises(InvalidInput) as refused:
        call(item, col)
    assert refused.value.detail["field"] == field
    assert refused.value.detail["limit"] == limit
    assert f"the limit is {limit}" in refused.value.message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda item: work_item_update(item, actor=None, kind="epic"), "Unknown kind 'epic'"),
        (lambda item: work_item_update(item, actor=None, title="  "), "title is required"),
        (lambda item: work_item_update(item, actor=None, title="a\x00b"), "NUL"),
        (lambda item: work_item_update(item, actor=None, due_date="2026-01-01"), "must be a date"),
        (lambda item: work_item_update(item, actor=None, external_url="ftp://x"), "http"),
        (lambda item: work_item_update(item, actor=None, column=None), "not a field that can be"),
        (lambda item: block_start(item, actor=None, reason="bored"), "Unknown block reason"),
    ],
    ids=["kind", "blank title", "NUL", "due date", "link", "column", "block reason"],
)
def test_bad_shapes_are_refused_before_any_write(item, call, message):
    version = item.version
    with pytest.raises(InvalidInput, match=message):
        call(item)
    item.refresh_from_db()
    assert item.version == version


# --- work_item_update ------------------------------------------------------------------------


def test_an_update_bumps_the_version_and_refuses_a_stale_one(item):
    work_item_update(item, actor=None, expected_version=1, title="Refund flow v2")
    item.refresh_from_db()
    assert (item.title, item.version) == ("Refund flow v2", 2)
    with pytest.raises(StaleVersion, match="changed by someone else"):
        work_item_update(item, actor=None, expected_version=1, title="Refund flow v3")


def test_a_new_kind_gets_its_criteria_and_retires_the_old_kinds(board, col):
    feature_only = CriterionTemplateFactory(
        board=board, title="Release notes", applies_to_kinds=["feature"]
    )
    defect_only = CriterionTemplateFactory(
        board=board, title="Root cause written", applies_to_kinds=["defect"]
    )
    defect = WorkItemFactory(board=board, kind="defect")
    assert set(defect.criteria.values_list("title", flat=True)) == {"Root cause written"}

    work_item_update(defect, actor=None, kind="feature")

    criteria = {c.template_id: c for c in defect.criteria.all()}
    assert criteria[feature_only.pk].status == AcceptanceCriterion.Status.PENDING
    retired = criteria[defect_only.pk]
    assert retired.status == AcceptanceCriterion.Status.WAIVED
    assert "No longer applies" in retired.waiver_reason
    assert retired.changes.get().to_status == "waived"
    defect.refresh_from_db()
    assert defect.version == 2
