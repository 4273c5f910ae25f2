"""Meeting, waiving and reopening criteria: who, when, evidence, reason, and history."""

import pytest

from boards.services import work_item_discard
from flowboard.errors import InvalidInput, InvalidTransition, ItemDiscarded
from readiness.models import AcceptanceCriterion, CriterionChange
from readiness.services import criterion_add, criterion_meet, criterion_reopen, criterion_waive
from tests.factories import CriterionTemplateFactory, WorkItemFactory

EVIDENCE = "https://wiki.example.com/runbook"


@pytest.fixture
def criterion(board):
    CriterionTemplateFactory(board=board, title="Support trained", track="support")
    return WorkItemFactory(board=board).criteria.get()


def test_a_criterion_is_copied_from_its_template(criterion, board):
    assert (criterion.title, criterion.track, criterion.category, criterion.status) == (
        "Support trained",
        "support",
        "readiness",
        "pending",
    )
    assert criterion.gate_column == board.delivery_column


def test_meeting_records_who_when_and_evidence(criterion, member):
    criterion_meet(criterion, actor=member, evidence_url=EVIDENCE)
    criterion.refresh_from_db()
    assert (criterion.status, criterion.resolved_by, criterion.evidence_url) == (
        "met",
        member,
        EVIDENCE,
    )
    assert criterion.resolved_at is not None
    change = CriterionChange.objects.get(criterion=criterion)
    assert (change.from_status, change.to_status, change.actor) == ("pending", "met", member)


def test_reopening_keeps_the_earlier_resolution_in_history(criterion, member):
    criterion_waive(criterion, actor=member, reason="Internal tool only")
    criterion_reopen(criterion, actor=member, reason="Now customer-facing")
    criterion.refresh_from_db()
    assert (criterion.status, criterion.waiver_reason, criterion.resolved_at) == (
        "pending",
        "",
        None,
    )
    history = list(
        CriterionChange.objects.filter(criterion=criterion).values_list("to_status", "reason")
    )
    assert history == [("waived", "Internal tool only"), ("pending", "Now customer-facing")]


# (call, kwargs, error, message)
REFUSALS = [
    pytest.param("meet", {"evidence_url": "not a url"}, InvalidInput, "http", id="meet bad link"),
    pytest.param("meet", {"evidence_url": "ftp://x.example.com/f"}, InvalidInput, "http", id="ftp"),
    pytest.param("waive", {"reason": " "}, InvalidInput, "reason", id="waive without reason"),
    pytest.param("reopen", {}, InvalidTransition, "already pending", id="reopen pending"),
]


@pytest.mark.parametrize(("call", "kwargs", "error", "message"), REFUSALS)
def test_refusals(criterion, call, kwargs, error, message):
    service = {"meet": criterion_meet, "waive": criterion_waive, "reopen": criterion_reopen}[call]
    with pytest.raises(error, match=message):
        service(criterion, actor=None, **kwargs)
    assert not CriterionChange.objects.exists()


def test_meeting_twice_is_refused(criterion):
    criterion_meet(criterion, actor=None, evidence_url=EVIDENCE)
    with pytest.raises(InvalidTransition, match="already met"):
        criterion_waive(criterion, actor=None, reason="x")


def test_the_database_refuses_a_waiver_without_reason(criterion):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        AcceptanceCriterion.objects.filter(pk=criterion.pk).update(status="waived")


def test_discarded_items_criteria_are_frozen(criterion):
    work_item_discard(criterion.item, actor=None, reason="Dropped")
    with pytest.raises(ItemDiscarded):
        criterion_meet(criterion, actor=None, evidence_url=EVIDENCE)


def test_an_item_can_have_its_own_criteria(board, col):
    item = WorkItemFactory(board=board)
    extra = criterion_add(
        item, title="Load test signed off", track="operations", gate_column=col["Done"], actor=None
    )
    assert extra.template is None and extra.required
    with pytest.raises(InvalidInput, match="Unknown track"):
        criterion_add(item, title="x", track="astrology", gate_column=col["Done"], actor=None)
