"""Blocking and unblocking: blocks are history, nothing is erased."""

import datetime as dt

import pytest
from django.utils import timezone

from boards.models import Block
from boards.services import block_end, block_start, work_item_discard
from flowboard.errors import InvalidInput, InvalidTransition, ItemDiscarded
from tests.factories import CriterionTemplateFactory, WorkItemFactory

NOW = timezone.now()


@pytest.fixture
def item(board):
    return WorkItemFactory(board=board, created_at=NOW - dt.timedelta(days=10))


def test_unblocking_ends_the_block_and_keeps_its_reason(item, member):
    block_start(
        item, actor=member, reason="dependency", note="API v2", at=NOW - dt.timedelta(days=3)
    )
    block_end(item, actor=member, at=NOW - dt.timedelta(days=1))
    block = Block.objects.get(item=item)
    assert (block.reason, block.note, block.started_by, block.ended_by) == (
        "dependency",
        "API v2",
        member,
        member,
    )
    assert block.ended_at - block.started_at == dt.timedelta(days=2)


def test_blocks_accumulate_as_history(item):
    for day in (5, 3):
        block_start(item, actor=None, reason="environment", at=NOW - dt.timedelta(days=day))
        block_end(item, actor=None, at=NOW - dt.timedelta(days=day - 1))
    assert Block.objects.filter(item=item).count() == 2


# (setup, call, error)
CASES = [
    pytest.param("blocked", "start", InvalidTransition, id="already blocked"),
    pytest.param("clear", "end", InvalidTransition, id="not blocked"),
    pytest.param("clear", "bad-reason", InvalidInput, id="unknown reason"),
    pytest.param("discarded", "start", ItemDiscarded, id="discarded item"),
    pytest.param("blocked", "end-before-start", InvalidInput, id="ends before it started"),
]


@pytest.mark.parametrize(("setup", "call", "error"), CASES)
def test_refusals(item, setup, call, error):
    if setup == "blocked":
        block_start(item, actor=None, reason="decision", at=NOW - dt.timedelta(days=1))
    elif setup == "discarded":
        work_item_discard(item, actor=None, reason="Dropped")
    with pytest.raises(error):
        if call == "start":
            block_start(item, actor=None, reason="decision")
        elif call == "bad-reason":
            block_start(item, actor=None, reason="lunch")
        elif call == "end":
            block_end(item, actor=None)
        else:
            block_end(item, actor=None, at=NOW - dt.timedelta(days=2))


def test_a_block_cannot_start_before_the_item_existed(item):
    with pytest.raises(InvalidInput, match="would come before its creation"):
        block_start(item, actor=None, reason="decision", at=NOW - dt.timedelta(days=11))


def test_a_block_can_hold_up_a_readiness_criterion(board):
    CriterionTemplateFactory(board=board, track="legal")
    item = WorkItemFactory(board=board)
    criterion = item.criteria.get()
    block = block_start(item, actor=None, reason="external", criterion=criterion)
    assert block.criterion.track == "legal"
    other = WorkItemFactory(board=board)
    with pytest.raises(InvalidInput, match="another item"):
        block_start(other, actor=None, reason="external", criterion=criterion)


def test_discarding_ends_an_open_block(item):
    block_start(item, actor=None, reason="capacity", at=NOW - dt.timedelta(days=1))
    work_item_discard(item, actor=None, reason="Dropped", at=NOW)
    assert Block.objects.get(item=item).ended_at == NOW
