"""Jira deliveries flow onto the board with Jira's timestamps: created, status changes (held for
the settle window and applied in (timestamp, changelog id) order), deleted; out-of-order ones
that are still older than the item's last move are kept as superseded."""

import copy
import datetime as dt

import pytest
from django.utils import timezone

from boards.models import Transition, WorkItem
from integrations import inbound
from integrations.models import Delivery
from tests.integrations.conftest import payload

pytestmark = pytest.mark.django_db
CREATED = "jira/webhook-issue-created"
STARTED = "jira/webhook-issue-updated-started-working"


def ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def at(millis: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def status_change(base, key, to, when, changelog_id, frm="To Do"):
    body = copy.deepcopy(base or payload(STARTED))
    body["timestamp"] = ms(when) if isinstance(when, dt.datetime) else when
    body["issue"]["key"] = key
    body["issue"]["fields"]["status"]["name"] = to
    body["changelog"] = {
        "id": str(changelog_id),
        "items": [{"field": "status", "fieldtype": "jira", "fromString": frm, "toString": to}],
    }
    return body


def test_issue_created_then_started_with_jiras_timestamps(deliver, jira, col):
    created = payload(CREATED)
    assert deliver(jira, created).status_code == 202
    item = WorkItem.objects.get(external_source="jira", external_key="TES-41")
    assert item.key == "TES-41" and item.column == col["Backlog"]
    assert item.title == created["issue"]["fields"]["summary"]
    assert item.created_at == at(created["timestamp"])
    assert item.external_url == created["issue"]["self"]

    started = payload(STARTED)
    assert deliver(jira, started).status_code == 202
    item.refresh_from_db()
    assert item.column == col["Build"]
    move = Transition.objects.filter(item=item).latest("id")
    assert move.at == at(started["timestamp"]) and move.source == "webhook"
    assert Delivery.objects.filter(status="processed").count() == 2


def test_an_update_without_a_status_change_updates_fields_only(deliver, jira, col):
    deliver(jira, payload(CREATED))
    rank = payload("jira/webhook-issue-updated-rank")
    rank["issue"]["fields"]["summary"] = "Renamed in Jira"
    deliver(jira, rank)
    item = WorkItem.objects.get(external_key="TES-41")
    assert item.title == "Renamed in Jira" and item.column == col["Backlog"]
    assert Transition.objects.filter(item=item).count() == 1


def test_an_update_for_an_unknown_issue_creates_it_in_its_current_status(deliver, jira, col):
    deliver(jira, payload("jira/webhook-server-issue-updated-in-progress"))
    item = WorkItem.objects.get(external_key="TES-4")
    assert item.column == col["Build"] and item.kind == "defect"  # a Jira Bug


def test_control_characters_in_a_summary_do_not_keep_the_issue_off_the_board(deliver, jira):
    created = payload(CREATED)
    created["issue"]["fields"]["summary"] = "Checkout \x1b[31mfails\x07 on \ud800retry"
    deliver(jira, created)
    item = WorkItem.objects.get(external_source="jira", external_key="TES-41")
    assert item.title == "Checkout [31mfails on ?retry"
    assert Delivery.objects.get().status == "processed"


def test_a_late_delivery_does_not_overwrite_the_fields_of_a_later_event(deliver, jira):
    created = payload(CREATED)
    renamed = copy.deepcopy(created)
    renamed["webhookEvent"] = "jira:issue_updated"
    renamed["timestamp"] = created["timestamp"] + 60_000
    renamed["issue"]["fields"]["summary"] = "Renamed in Jira"
    renamed["changelog"] = {"id": "7", "items": [{"field": "summary", "toString": "Renamed"}]}
    deliver(jira, renamed)  # arrives first: creates the item with its newer title
    deliver(jira, created)  # Jira's retry of the older event
    item = WorkItem.objects.get(external_source="jira", external_key="TES-41")
    assert item.title == "Renamed in Jira"
    assert list(Delivery.objects.values_list("status", flat=True)) == ["processed"] * 2
    older = copy.deepcopy(renamed)
    older["timestamp"] = created["timestamp"] + 30_000
    older["issue"]["fields"]["summary"] = "An older title"
    deliver(jira, older)
    item.refresh_from_db()
    assert item.title == "Renamed in Jira"
    newest = copy.deepcopy(renamed)
    newest["timestamp"] = created["timestamp"] + 90_000
    newest["issue"]["fields"]["summary"] = "The newest title"
    deliver(jira, newest)
    item.refresh_from_db()
    assert item.title == "The newest title"


def test_issue_deleted_discards_it(deliver, jira):
    deleted = payload("jira/webhook-issue-deleted")
    body = copy.deepcopy(payload(CREATED))
    body["issue"]["key"] = deleted["issue"]["key"]
    deliver(jira, body)
    deliver(jira, deleted)
    item = WorkItem.objects.get(external_key="IDT-19")
    assert item.discarded_at is not None and item.discard_reason == "Deleted in Jira"
    again = deliver(jira, deleted, delivery_id="another-copy")
    assert again.status_code == 202
    assert Delivery.objects.get(delivery_id="another-copy").status == "ignored"


def test_out_of_order_changes_are_held_and_applied_sorted(deliver, jira, col, settings):
    settings.INTEGRATIONS_SETTLE_SECONDS = 60
    base = timezone.now() - dt.timedelta(hours=2)
    created = payload(CREATED)
    created["timestamp"] = ms(base)
    deliver(jira, created)
    # Jira sends Build at t+10, Review at t+20 and Done at t+30; they arrive Done, Build, Review.
    t = [at(ms(base + dt.timedelta(minutes=m))) for m in (10, 20, 30)]  # Jira's milliseconds
    deliver(jira, status_change(None, "TES-41", "Done", t[2], 103, frm="Review"))
    deliver(jira, status_change(None, "TES-41", "In Progress", t[0], 101))
    deliver(jira, status_change(None, "TES-41", "Review", t[1], 102, frm="In Progress"))
    item = WorkItem.objects.get(external_key="TES-41")
    assert item.column == col["Backlog"]  # held: nothing applied within the window
    assert Delivery.objects.filter(status="waiting").count() == 3
    assert inbound.settle(jira.pk, "TES-41") == 0  # still within the window
    applied = inbound.settle(jira.pk, "TES-41", now=timezone.now() + dt.timedelta(seconds=61))
    assert applied == 3
    moves = Transition.objects.filter(item=item).order_by("at", "id")
    assert [(m.to_column.name, m.at) for m in moves][1:] == [
        ("Build", t[0]), ("Review", t[1]), ("Done", t[2])
    ]  # fmt: skip
    item.refresh_from_db()
    assert item.column == col["Done"] and item.delivered_at == t[2]


def test_a_change_that_arrives_late_in_the_window_goes_before_the_one_it_missed(
    deliver, jira, col, settings
):
    settings.INTEGRATIONS_SETTLE_SECONDS = 60
    base = timezone.now() - dt.timedelta(hours=1)
    created = payload(CREATED)
    created["timestamp"] = ms(base)
    deliver(jira, created)
    review = status_change(None, "TES-41", "Review", base + dt.timedelta(minutes=20), 502)
    deliver(jira, review, delivery_id="first-to-arrive")
    Delivery.objects.filter(delivery_id="first-to-arrive").update(
        received_at=timezone.now() - dt.timedelta(seconds=50)
    )
    build = status_change(None, "TES-41", "In Progress", base + dt.timedelta(minutes=10), 501)
    deliver(jira, build, delivery_id="earlier-but-later")  # 50 s after the one it precedes
    assert inbound.settle(jira.pk, "TES-41", now=timezone.now() + dt.timedelta(seconds=11)) == 2
    item = WorkItem.objects.get(external_key="TES-41")
    assert [t.to_column.name for t in Transition.objects.filter(item=item).order_by("id")] == [
        "Backlog", "Build", "Review"
    ]  # fmt: skip
    assert set(Delivery.objects.values_list("status", flat=True)) == {"processed"}


def test_same_timestamp_is_ordered_by_changelog_id(deliver, jira, col, settings):
    settings.INTEGRATIONS_SETTLE_SECONDS = 60
    when = timezone.now() - dt.timedelta(hours=1)
    created = payload(CREATED)
    created["timestamp"] = ms(when - dt.timedelta(minutes=5))
    deliver(jira, created)
    deliver(jira, status_change(None, "TES-41", "Review", when, 202, frm="In Progress"))
    deliver(jira, status_change(None, "TES-41", "In Progress", when, 201))
    inbound.settle(jira.pk, "TES-41", now=timezone.now() + dt.timedelta(minutes=2))
    item = WorkItem.objects.get(external_key="TES-41")
    assert [t.to_column.name for t in Transition.objects.filter(item=item).order_by("id")] == [
        "Backlog", "Build", "Review"
    ]  # fmt: skip


def test_a_change_older_than_the_last_move_is_superseded_and_history_kept(deliver, jira, col):
    base = timezone.now() - dt.timedelta(hours=3)
    created = payload(CREATED)
    created["timestamp"] = ms(base)
    deliver(jira, created)
    deliver(jira, status_change(None, "TES-41", "Done", base + dt.timedelta(hours=2), 302))
    late = status_change(None, "TES-41", "In Progress", base + dt.timedelta(hours=1), 301)
    deliver(jira, late, delivery_id="late-one")  # 30 minutes late: after the window
    delivery = Delivery.objects.get(delivery_id="late-one")
    assert delivery.status == "superseded"
    assert "before TES-41's last move" in delivery.error
    item = WorkItem.objects.get(external_key="TES-41")
    assert item.column == col["Done"]
    assert Transition.objects.filter(item=item).count() == 2


def test_an_unmapped_status_fails_visibly_then_a_fixed_mapping_replays_it(
    deliver, jira, col, django_capture_on_commit_callbacks
):
    deliver(jira, payload(CREATED))
    body = status_change(None, "TES-41", "Waiting for QA", timezone.now(), 401)
    deliver(jira, body, delivery_id="unmapped")
    delivery = Delivery.objects.get(delivery_id="unmapped")
    assert delivery.status == "failed"
    assert "'Waiting for QA' maps to no column" in delivery.error
    assert "replay" in delivery.error
    jira.mapping["Waiting for QA"] = "Review"
    jira.save()
    with django_capture_on_commit_callbacks(execute=True):
        inbound.replay(delivery)
    delivery.refresh_from_db()
    assert delivery.status == "processed" and delivery.attempts == 2
    item = WorkItem.objects.get(external_key="TES-41")
    assert item.column == col["Review"]
    # Replaying a processed delivery is refused; processing it again changes nothing.
    with pytest.raises(Exception, match="only failed, ignored or superseded"):
        inbound.replay(delivery)
    assert inbound.process(delivery.pk) == "processed"
    assert Transition.objects.filter(item=item).count() == 2
    assert delivery.attempts == 2


def test_a_gate_refusal_fails_the_delivery_until_criteria_are_met(
    deliver, jira, col, django_capture_on_commit_callbacks
):
    from readiness.models import CriterionTemplate

    CriterionTemplate.objects.create(
        board=jira.board, title="Runbook", track="operations", gate_column=col["Done"]
    )
    deliver(jira, payload(CREATED))
    item = WorkItem.objects.get(external_key="TES-41")
    deliver(jira, status_change(None, "TES-41", "Done", timezone.now(), 501), delivery_id="gate")
    delivery = Delivery.objects.get(delivery_id="gate")
    assert delivery.status == "failed" and delivery.error.startswith("Refused: TES-41 cannot")
    assert item.gate_refusals.count() == 1  # the refusal is recorded, for the gate-wait metric
    from readiness.services import criterion_waive

    criterion_waive(item.criteria.get(), actor=None, reason="Runbook lives in the wiki")
    with django_capture_on_commit_callbacks(execute=True):
        inbound.replay(delivery)
    delivery.refresh_from_db()
    assert delivery.status == "processed" and delivery.error == ""
    item.refresh_from_db()
    assert item.column == col["Done"]


@pytest.mark.parametrize(
    "mutate, error",
    [
        (lambda b: b.pop("issue"), "issue is missing"),
        (lambda b: b.update(timestamp="yesterday"), "is not epoch milliseconds"),
        (lambda b: b["issue"].update(key=""), "issue.key is missing"),
        (lambda b: b["issue"].update(fields=[]), "issue.fields is missing"),
        (lambda b: b["issue"]["fields"].pop("status"), "no fields.status.name"),
    ],
)
def test_malformed_payloads_fail_with_the_reason(deliver, jira, mutate, error):
    body = payload(CREATED)
    mutate(body)
    assert deliver(jira, body).status_code == 202
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and error in delivery.error


def test_an_unknown_event_is_ignored_with_a_reason(deliver, jira):
    body = payload(CREATED)
    body["webhookEvent"] = "comment_created"
    deliver(jira, body)
    delivery = Delivery.objects.get()
    assert delivery.status == "ignored" and "'comment_created' is not used" in delivery.error
