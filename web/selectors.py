"""Reads of a board for the web board (a surface: it reads boards, readiness and metrics): its
columns with their cards, and one card's history.

The board is read with a fixed number of queries whatever its size (a test asserts it): the
cards of every column in one query, capped per column (``CARDS_PER_COLUMN``; the rest load on
demand), their open blocks and readiness in one query each, and the column counts in one.
Done-stage columns show the cards delivered in the last ``RECENT_DONE_DAYS`` days unless older
ones are asked for.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from boards.models import Block, Board, Column, Transition, WorkItem
from metrics.calculators import stats
from metrics.selectors import recent_cycle_days
from readiness.models import AcceptanceCriterion, CriterionChange, GateRefusal, Track

CARDS_PER_COLUMN = 100
RECENT_DONE_DAYS = 14
# Ageing bands against the cycle-time percentiles, as ActionableAgile colours its ageing chart.
BANDS = ((50, "p50"), (70, "p70"), (85, "p85"), (95, "p95"))
SOON_DAYS = 3  # a due date this close is a risk
CoS = WorkItem.ClassOfService
LANE_ORDER = {
    "class_of_service": [CoS.EXPEDITE, CoS.FIXED_DATE, CoS.STANDARD, CoS.INTANGIBLE],
    "kind": list(WorkItem.Kind.values),
}


@dataclass(frozen=True)
class Filters:
    """What the board shows: kinds, blocked only, overdue only, a track with pending criteria,
    a text search, the swimlanes, and done-stage columns whose older cards are shown."""

    kinds: tuple[str, ...] = ()
    blocked: bool = False
    overdue: bool = False
    track: str = ""
    text: str = ""
    lanes: str = ""  # "", "class_of_service" or "kind"
    older: tuple[int, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.blocked or self.overdue or self.track or self.text)


@dataclass
class Card:
    id: int
    key: str
    title: str
    kind: str
    kind_label: str
    class_of_service: str
    column_id: int
    version: int
    due_date: dt.date | None
    external_url: str
    age_days: int | None = None
    age_band: str = ""
    blocked_reason: str = ""
    blocked_note: str = ""
    met: int = 0
    required: int = 0
    tracks: list[tuple[str, str, str]] = field(default_factory=list)  # (track, label, state)
    due_state: str = ""  # overdue | soon | ok
    due_in_days: int | None = None
    delivered: bool = False


@dataclass
class ColumnView:
    column: Column
    total: int  # items in the column (not discarded), for the WIP limit
    shown: int = 0  # cards matching the filters
    hidden_older: int = 0  # done-stage cards delivered before the recent window
    wip_state: str = ""  # "", near, over
    cards: list[Card] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(0, self.shown - len(self.cards))


@dataclass
class Lane:
    key: str
    label: str
    cells: list[tuple["ColumnView", list[Card]]]  # per column, in column order: its cards


@dataclass
class BoardView:
    board: Board
    columns: list[ColumnView]
    stages: list[tuple[str, str, int]]  # (stage, label, number of columns), in board order
    lanes: list[Lane]
    p85_days: int | None
    cycle_percentiles: dict[str, int]
    version: str


def board_version(board: Board) -> str:
    """Changes when anything shown on the board changes: every service that changes a card
    bumps its ``updated_at`` (a criterion's change too). One indexed query."""
    latest = (
        WorkItem.objects.filter(board=board)
        .order_by("-updated_at")
        .values_list("updated_at", "id")[:1]
    )
    row = next(iter(latest), None)
    count = WorkItem.objects.filter(board=board).count()
    stamp = row[0].timestamp() if row else 0
    return f"{board.pk}-{count}-{stamp:.6f}"


def _matching(board: Board, filters: Filters, today: dt.date) -> Q:
    """The filters as a condition on the board's items."""
    condition = Q()
    if filters.kinds:
        condition &= Q(kind__in=filters.kinds)
    if filters.blocked:
        condition &= Q(Exists(Block.objects.filter(item=OuterRef("pk"), ended_at__isnull=True)))
    if filters.overdue:
        condition &= Q(due_date__lt=today, delivered_at__isnull=True)
    if filters.track:
        condition &= Q(
            Exists(
                AcceptanceCriterion.objects.filter(
                    item=OuterRef("pk"), track=filters.track, status="pending"
                )
            )
        )
    if filters.text:
        condition &= Q(key__icontains=filters.text) | Q(title__icontains=filters.text)
    return condition


def _recent(columns: Sequence[Column], filters: Filters, since: dt.datetime) -> Q:
    """Done-stage columns show recent deliveries only, unless their older cards are asked for."""
    capped = [c.pk for c in columns if c.stage == Column.Stage.DONE and c.pk not in filters.older]
    if not capped:
        return Q()
    return ~Q(column_id__in=capped) | Q(delivered_at__isnull=True) | Q(delivered_at__gte=since)


def cards_query(
    board: Board, columns: Sequence[Column], filters: Filters, now: dt.datetime
) -> QuerySet[WorkItem]:
    today = now.astimezone(board.tz).date()
    since = now - dt.timedelta(days=RECENT_DONE_DAYS)
    return WorkItem.objects.filter(
        _matching(board, filters, today),
        _recent(columns, filters, since),
        board=board,
        discarded_at__isnull=True,
    )


def board_view(
    board: Board, filters: Filters, now: dt.datetime | None = None, limit: int = CARDS_PER_COLUMN
) -> BoardView:
    """The board as the web board shows it (a fixed number of queries)."""
    now = now or timezone.now()
    today = now.astimezone(board.tz).date()
    columns = list(board.columns.order_by("position"))
    visible = cards_query(board, columns, filters, now)
    since = now - dt.timedelta(days=RECENT_DONE_DAYS)
    counts = {
        row["column_id"]: row
        for row in WorkItem.objects.filter(board=board, discarded_at__isnull=True)
        .values("column_id")
        .annotate(
            total=Count("id"),
            shown=Count(
                "id",
                filter=_matching(board, filters, today) & _recent(columns, filters, since),
            ),
            older=Count(
                "id",
                filter=_matching(board, filters, today) & Q(delivered_at__lt=since),
            ),
        )
    }
    ranked = (
        visible.annotate(
            row=Window(RowNumber(), partition_by=[F("column_id")], order_by=[F("rank"), F("id")])
        )
        .filter(row__lte=limit)
        .order_by("column__position", "rank", "id")
    )
    percentiles = cycle_percentiles(board, now)
    cards = _cards(board, ranked, today, percentiles)
    views = []
    for column in columns:
        row = counts.get(column.pk, {"total": 0, "shown": 0, "older": 0})
        view = ColumnView(column=column, total=row["total"], shown=row["shown"])
        if column.stage == Column.Stage.DONE and column.pk not in filters.older:
            view.hidden_older = row["older"]
        view.wip_state = wip_state(column, row["total"])
        view.cards = [card for card in cards if card.column_id == column.pk]
        views.append(view)
    return BoardView(
        board=board,
        columns=views,
        stages=_stages(columns),
        lanes=_lanes(views, filters.lanes),
        p85_days=percentiles.get("85"),
        cycle_percentiles=percentiles,
        version=board_version(board),
    )


def column_cards(
    board: Board, column: Column, filters: Filters, offset: int, now: dt.datetime | None = None
) -> tuple[list[Card], int]:
    """The next page of a column's cards (``CARDS_PER_COLUMN`` from ``offset``), and how many
    match in all."""
    now = now or timezone.now()
    today = now.astimezone(board.tz).date()
    columns = list(board.columns.order_by("position"))
    visible = cards_query(board, columns, filters, now).filter(column=column)
    page = visible.order_by("rank", "id")[offset : offset + CARDS_PER_COLUMN]
    return _cards(board, page, today, cycle_percentiles(board, now)), visible.count()


def wip_state(column: Column, count: int) -> str:
    """ "over" above the WIP limit (red), "near" from 80% of it up to it (amber), else ""."""
    limit = column.wip_limit
    if limit is None:
        return ""
    if count > limit:
        return "over"
    if count >= max(1, limit * 0.8):
        return "near"
    return ""


def cycle_percentiles(board: Board, now: dt.datetime) -> dict[str, int]:
    """The cycle-time percentiles (days) of the stored summary, or of the last 90 days."""
    summary = getattr(getattr(board, "metrics", None), "summary", None) or {}
    stored = (summary.get("cycle_time") or {}).get("percentiles")
    if stored:
        return {str(k): v for k, v in stored.items()}
    days = sorted(recent_cycle_days(board, now))
    return {str(p): v for p, v in stats.percentiles(days).items()} if days else {}


def _cards(board, items: Iterable[WorkItem], today: dt.date, percentiles) -> list[Card]:
    """Cards with their age, block and readiness: two queries besides ``items``."""
    items = list(
        items.values(
            "id",
            "key",
            "title",
            "kind",
            "class_of_service",
            "column_id",
            "version",
            "due_date",
            "external_url",
            "started_at",
            "delivered_at",
        )  # fmt: skip
    )
    ids = [item["id"] for item in items]
    blocks = {
        item_id: (reason, note)
        for item_id, reason, note in Block.objects.filter(
            item_id__in=ids, ended_at__isnull=True
        ).values_list("item_id", "reason", "note")
    }
    readiness: dict[int, dict[str, list[str]]] = {}
    for item_id, track, status in AcceptanceCriterion.objects.filter(
        item_id__in=ids, required=True
    ).values_list("item_id", "track", "status"):
        readiness.setdefault(item_id, {}).setdefault(track, []).append(status)
    reasons = dict(Block.Reason.choices)
    tracks = dict(Track.choices)
    kinds = dict(WorkItem.Kind.choices)
    cards = []
    for item in items:
        card = Card(
            id=item["id"],
            key=item["key"],
            title=item["title"],
            kind=item["kind"],
            kind_label=kinds[item["kind"]],
            class_of_service=item["class_of_service"],
            column_id=item["column_id"],
            version=item["version"],
            due_date=item["due_date"],
            external_url=item["external_url"],
            delivered=item["delivered_at"] is not None,
        )
        started = item["started_at"]
        if started is not None and item["delivered_at"] is None:
            card.age_days = (today - started.astimezone(board.tz).date()).days + 1
            card.age_band = _band(card.age_days, percentiles)
        if item["id"] in blocks:
            reason, note = blocks[item["id"]]
            card.blocked_reason, card.blocked_note = reasons.get(reason, reason), note
        by_track = readiness.get(item["id"], {})
        for track in sorted(by_track):
            statuses = by_track[track]
            done = sum(1 for s in statuses if s != "pending")
            card.met += done
            card.required += len(statuses)
            state = "done" if done == len(statuses) else ("part" if done else "none")
            card.tracks.append((track, tracks.get(track, track), state))
        if card.due_date is not None and not card.delivered:
            card.due_in_days = (card.due_date - today).days
            if card.due_in_days < 0:
                card.due_state = "overdue"
            elif card.due_in_days <= SOON_DAYS:
                card.due_state = "soon"
            else:
                card.due_state = "ok"
        cards.append(card)
    return cards


def _band(age: int, percentiles: dict[str, int]) -> str:
    """The ageing band of an age in days: at or under the 50th percentile cycle time is
    "fresh", over the 95th is "p95+"."""
    band = "fresh"
    for percent, name in BANDS:
        limit = percentiles.get(str(percent))
        if limit is not None and age > limit:
            band = name
    return "p95+" if band == "p95" and percentiles.get("95") is not None else band


def _stages(columns: Sequence[Column]) -> list[tuple[str, str, int]]:
    labels = dict(Column.Stage.choices)
    groups: list[tuple[str, str, int]] = []
    for column in columns:
        if groups and groups[-1][0] == column.stage:
            stage, label, count = groups[-1]
            groups[-1] = (stage, label, count + 1)
        else:
            groups.append((column.stage, labels[column.stage], 1))
    return groups


def _lanes(columns: list[ColumnView], by: str) -> list[Lane]:
    if by not in LANE_ORDER:
        return [Lane("all", "", [(view, view.cards) for view in columns])]
    labels = dict(
        CoS.choices if by == "class_of_service" else WorkItem.Kind.choices  # type: ignore[arg-type]
    )
    lanes = []
    for value in LANE_ORDER[by]:
        cells = [(view, [c for c in view.cards if getattr(c, by) == value]) for view in columns]
        if any(cards for _, cards in cells):
            lanes.append(Lane(value, labels[value], cells))
    return lanes


# --- one card --------------------------------------------------------------------------------


@dataclass
class Event:
    at: dt.datetime
    kind: str  # move | created | refused | blocked | unblocked | criterion
    text: str
    who: str


def card_history(item: WorkItem) -> list[Event]:
    """Everything that happened to the card, newest first: moves, refused gate attempts, blocks
    and criteria changes, with who and when (five queries)."""
    names = {c.pk: c.name for c in item.board.columns.all()}
    tracks = dict(Track.choices)
    events: list[Event] = []
    for t in Transition.objects.filter(item=item).select_related("actor").order_by("at", "id"):
        who = t.actor.get_username() if t.actor else t.get_source_display()
        if t.from_column_id is None:
            events.append(Event(t.at, "created", f"Created in {names[t.to_column_id]}", who))
        else:
            text = f"Moved from {names[t.from_column_id]} to {names[t.to_column_id]}"
            events.append(Event(t.at, "move", text, who))
    for r in GateRefusal.objects.filter(item=item).select_related("actor"):
        pending = ", ".join(f"{u['title']} ({tracks.get(u['track'], u['track'])})" for u in r.unmet)
        text = f"Refused at the {names.get(r.gate_column_id, '?')} gate: {pending} pending"
        who = r.actor.get_username() if r.actor else r.source
        events.append(Event(r.at, "refused", text, who))
    for b in Block.objects.filter(item=item).select_related("started_by", "ended_by", "criterion"):
        what = b.get_reason_display() + (f": {b.note}" if b.note else "")
        if b.criterion_id:
            what += f" (holds up {b.criterion.title})"
        who = b.started_by.get_username() if b.started_by else "system"
        events.append(Event(b.started_at, "blocked", f"Blocked, {what}", who))
        if b.ended_at:
            who = b.ended_by.get_username() if b.ended_by else "system"
            events.append(Event(b.ended_at, "unblocked", "Unblocked", who))
    changes = CriterionChange.objects.filter(criterion__item=item).select_related(
        "criterion", "actor"
    )
    for c in changes:
        verb = {"met": "Met", "waived": "Waived", "pending": "Reopened"}[c.to_status]
        text = f"{verb} {c.criterion.title}"
        if c.reason:
            text += f": {c.reason}"
        if c.evidence_url:
            text += f" (evidence {c.evidence_url})"
        events.append(Event(c.at, "criterion", text, c.actor.get_username() if c.actor else "—"))
    if item.discarded_at:
        events.append(
            Event(item.discarded_at, "discarded", f"Discarded: {item.discard_reason}", "")
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events
