"""``manage.py seed_demo``: a demo board with 120 days of realistic, backdated history.

The history is simulated day by day through the real services, so the demo obeys the same rules
as live use: hard WIP limits hold items back, gates refuse items whose readiness criteria are
pending (and those refusals are recorded), blocks have reasons, some items are reopened after
release, some criteria are waived, and some items are discarded. The simulation is seeded, so a
given day always produces the same board. Running the command again changes nothing.
"""

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from boards import services, setup
from boards.models import Block, Board, BoardMembership, Column, Transition, WorkItem
from flowboard.errors import GateBlocked, WipLimitExceeded
from metrics.refresh import recompute_board
from metrics.summary import refresh_summary
from readiness import services as readiness_services
from readiness.models import AcceptanceCriterion, CriterionTemplate, Track

SLUG = "demo"
DAYS = 120
S = Column.Stage
A = Column.Activity
H = Column.WipPolicy.HARD
COLUMNS = [
    setup.ColumnSpec("Backlog", S.UPSTREAM, A.WAITING),
    setup.ColumnSpec("Ready", S.DEVELOPMENT, A.WAITING, 8, Column.WipPolicy.SOFT),
    setup.ColumnSpec("In development", S.DEVELOPMENT, A.ACTIVE, 6, H),
    setup.ColumnSpec("Code review", S.DEVELOPMENT, A.WAITING, 4, Column.WipPolicy.SOFT),
    setup.ColumnSpec("Testing", S.DEVELOPMENT, A.ACTIVE, 4, H),
    setup.ColumnSpec("Ready for release", S.DEVELOPMENT, A.WAITING),
    setup.ColumnSpec("Business readiness", S.READINESS, A.ACTIVE, 8, Column.WipPolicy.SOFT),
    setup.ColumnSpec("Released", S.DONE, A.ACTIVE),
    setup.ColumnSpec("Operating", S.DONE, A.ACTIVE),
]
FEATURE, DEFECT = WorkItem.Kind.FEATURE, WorkItem.Kind.DEFECT
TEMPLATES = [
    (Track.SUPPORT, "Support trained and runbook published", [FEATURE]),
    (
        Track.SUPPORT,
        "Support briefed on the fix and known-issue article updated",
        [DEFECT, "escalation"],
    ),
    (Track.DOCS, "User documentation published", [FEATURE]),
    (Track.GTM, "Release notes and launch announcement approved", [FEATURE]),
    (Track.LEGAL, "Legal and privacy review signed off", [FEATURE, WorkItem.Kind.RISK]),
]
KINDS = [
    (FEATURE, 55),
    (DEFECT, 20),
    (WorkItem.Kind.DEBT, 10),
    (WorkItem.Kind.RISK, 5),
    ("escalation", 10),
]
NOUNS = [
    "invoice export",
    "SSO login",
    "usage dashboard",
    "refund flow",
    "audit log",
    "webhook retries",
    "billing alerts",
    "team roles",
    "CSV import",
    "search filters",
    "mobile checkout",
    "API tokens",
    "data retention",
    "status page",
    "onboarding tour",
    "tax rules",
    "payment retries",
    "EU hosting",
]
VERBS = {
    FEATURE: ["Add", "Launch", "Support", "Redesign"],
    DEFECT: ["Fix crash in", "Fix rounding in", "Fix timeout in"],
    WorkItem.Kind.DEBT: ["Refactor", "Upgrade libraries behind", "Remove legacy"],
    WorkItem.Kind.RISK: ["Assess risk in", "Harden"],
    "escalation": ["Customer escalation:", "Escalated outage in"],
}
# Mean days spent in each column before the next move, by column position.
DWELL = {1: 3.0, 2: 4.0, 3: 1.5, 4: 2.5, 5: 2.0, 6: 5.0, 7: 6.0}


@dataclass
class Plan:
    item: WorkItem
    next_at: dt.datetime | None
    reopened: bool = False
    criteria_due: dict[int, dt.datetime] = field(default_factory=dict)


class Command(BaseCommand):
    help = "Create the demo board with 120 days of history (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--login",
            action="store_true",
            help="Also create the 'demo' ops-lead login with a fresh password, and print it.",
        )

    def handle(self, *args, login: bool = False, **options):
        board = Board.objects.filter(slug=SLUG).first()
        if board is None:
            board = self.seed()
            count = board.items.count()
            moves = Transition.objects.filter(board=board).count()
            self.stdout.write(f"Seeded board '{board.name}': {count} items, {moves} moves.")
        else:
            self.stdout.write(f"Board '{board.name}' already exists; nothing to seed.")
        if login:
            self.create_login(board)

    def create_login(self, board: Board) -> None:
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username="demo", defaults={"email": "demo@example.com"}
        )
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        BoardMembership.objects.update_or_create(
            board=board, user=user, defaults={"role": BoardMembership.Role.OPS_LEAD}
        )
        self.stdout.write(self.style.SUCCESS(f"Demo login: username demo, password {password}"))

    @transaction.atomic
    def seed(self) -> Board:
        rng = random.Random(2026)
        board = setup.board_create(
            name="Payments product",
            slug=SLUG,
            key_prefix="PAY",
            columns=COLUMNS,
            commitment="Ready",
            delivery="Released",
        )
        columns = list(board.columns.order_by("position"))
        released = columns[7]
        for position, (track, title, kinds) in enumerate(TEMPLATES):
            CriterionTemplate.objects.create(
                board=board,
                title=title,
                track=track,
                gate_column=released,
                applies_to_kinds=kinds,
                position=position,
            )
        Simulation(board, columns, rng).run()
        # Fill the snapshots now rather than wait for a worker.
        recompute_board(board)
        refresh_summary(board)
        return board


class Simulation:
    """Day-by-day history: arrivals, pulls through the columns, blocks, readiness work."""

    def __init__(self, board: Board, columns: list[Column], rng: random.Random) -> None:
        self.board, self.columns, self.rng = board, columns, rng
        self.now = timezone.now().replace(microsecond=0)
        self.start = self.now - dt.timedelta(days=DAYS)
        self.plans: list[Plan] = []
        self.number = 0

    def at(self, day: int, hour: float) -> dt.datetime:
        moment = self.start + dt.timedelta(days=day, hours=hour)
        return min(moment, self.now - dt.timedelta(minutes=1))

    def run(self) -> None:
        for day in range(DAYS):
            for _ in range(self.rng.choice([0, 1, 1, 1, 2, 2, 2])):
                self.arrive(day)
            events = sorted(
                (plan.next_at, index) for index, plan in enumerate(self.plans) if plan.next_at
            )
            end_of_day = self.at(day + 1, 0)
            for when, index in events:
                if when < end_of_day:
                    self.step(self.plans[index], when)

    def arrive(self, day: int) -> None:
        rng = self.rng
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        title = f"{rng.choice(VERBS[kind])} {rng.choice(NOUNS)}"
        created = self.at(day, rng.uniform(8, 18))
        expedite = kind == "escalation"
        item = services.work_item_create(
            self.board,
            title=title,
            kind=kind,
            actor=None,
            source=Transition.Source.WEB,
            class_of_service=WorkItem.ClassOfService.EXPEDITE
            if expedite
            else (
                WorkItem.ClassOfService.FIXED_DATE
                if rng.random() < 0.1
                else WorkItem.ClassOfService.STANDARD
            ),
            due_date=(created + dt.timedelta(days=rng.randint(20, 60))).date()
            if rng.random() < 0.25
            else None,
            created_at=created,
        )
        wait = rng.expovariate(1 / (0.5 if expedite else 6))
        self.plans.append(Plan(item=item, next_at=created + dt.timedelta(days=wait)))

    def step(self, plan: Plan, when: dt.datetime) -> None:
        item, rng = plan.item, self.rng
        if when >= self.now:
            plan.next_at = None
            return
        position = item.column.position
        if position == 0 and rng.random() < 0.06:
            services.work_item_discard(item, actor=None, reason="No longer needed", at=when)
            plan.next_at = None
            return
        if position >= 8:
            plan.next_at = None
            return
        self.maybe_block(plan, when)
        if position == 6:
            self.work_on_criteria(plan, when)
        target = position + 1
        if position in (3, 4) and rng.random() < 0.15:
            target = 2  # review or testing sent it back to development
        elif position == 7 and not plan.reopened and rng.random() < 0.05:
            target, plan.reopened = 4, True  # a released item reopened for a fix
        elif position == 4 and item.kind != FEATURE and rng.random() < 0.5:
            target = 7  # fixes without readiness work skip straight to release
        try:
            services.work_item_move(
                item, self.columns[target], actor=None, source=Transition.Source.WEB, at=when
            )
            item.refresh_from_db(fields=["column"])
            dwell = DWELL.get(target, 3.0) * (0.3 if item.kind == "escalation" else 1.0)
            plan.next_at = when + dt.timedelta(days=rng.expovariate(1 / dwell) + 0.05)
        except GateBlocked:
            # Readiness work is still pending: the team asks again a day or two later.
            plan.next_at = when + dt.timedelta(hours=rng.uniform(24, 60))
        except WipLimitExceeded:
            plan.next_at = when + dt.timedelta(hours=rng.uniform(6, 30))

    def maybe_block(self, plan: Plan, when: dt.datetime) -> None:
        item, rng = plan.item, self.rng
        open_block = item.blocks.filter(ended_at__isnull=True).first()
        if open_block is not None:
            if when - open_block.started_at > dt.timedelta(days=rng.uniform(0.5, 4)):
                services.block_end(item, actor=None, at=when)
            return
        if item.column.position in (2, 4, 6) and rng.random() < 0.12:
            criterion = None
            if item.column.position == 6:
                criterion = item.criteria.filter(status=AcceptanceCriterion.Status.PENDING).first()
            reason = rng.choice(Block.Reason.values)
            services.block_start(
                item,
                actor=None,
                reason=reason,
                note=f"Waiting on {reason}",
                criterion=criterion,
                at=when - dt.timedelta(hours=1),
            )

    def work_on_criteria(self, plan: Plan, when: dt.datetime) -> None:
        """Readiness tracks work in parallel; each criterion is done after its own delay."""
        rng = self.rng
        for criterion in plan.item.criteria.filter(status=AcceptanceCriterion.Status.PENDING):
            due = plan.criteria_due.setdefault(
                criterion.pk, when + dt.timedelta(days=rng.expovariate(1 / 4))
            )
            if due > when:
                continue
            if rng.random() < 0.1:
                readiness_services.criterion_waive(
                    criterion,
                    actor=None,
                    reason="Internal-only change; no customer impact",
                    at=when,
                )
            else:
                readiness_services.criterion_meet(
                    criterion,
                    actor=None,
                    evidence_url=f"https://wiki.example.com/readiness/{plan.item.key}/{criterion.pk}",
                    at=when,
                )
