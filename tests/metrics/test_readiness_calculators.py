"""Readiness metrics (docs/metrics.md, "Readiness (what other tools don't measure)")."""

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from metrics.calculators.readiness import (
    criterion_wait,
    critical_criterion,
    gate_wait,
    readiness_entered_at,
    readiness_lead_time,
    readiness_summary,
    track_summary,
)
from metrics.calculators.types import BoardInfo, ColumnInfo, CriterionInfo, Move, RefusalInfo

UTC = dt.UTC
DAY = 86_400.0
BACKLOG, DEV, SUPPORT, LEGAL, DONE = 1, 2, 3, 4, 5

BOARD = BoardInfo(
    columns=(
        ColumnInfo(BACKLOG, "Backlog", 0, "upstream", "waiting"),
        ColumnInfo(DEV, "Dev", 1, "development", "active"),
        ColumnInfo(SUPPORT, "Support ready", 2, "readiness", "waiting"),
        ColumnInfo(LEGAL, "Legal ready", 3, "readiness", "waiting"),
        ColumnInfo(DONE, "Done", 4, "done", "active"),
    ),
    commitment_id=DEV,
    delivery_id=DONE,
)
T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


def d(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def path(item: int, *steps: tuple[int, float]) -> list[Move]:
    moves, previous = [], None
    for column, days in steps:
        moves.append(Move(item, previous, column, d(days)))
        previous = column
    return moves


def criterion(
    cid: int,
    item: int,
    track: str,
    *,
    added: float,
    resolved: float | None,
    status: str = "met",
    required: bool = True,
    gate: int = DONE,
) -> CriterionInfo:
    return CriterionInfo(
        id=cid,
        item_id=item,
        title=f"{track} #{cid}",
        track=track,
        category="readiness",
        required=required,
        gate_column_id=gate,
        status=status if resolved is not None else "pending",
        added_at=d(added),
        resolved_at=None if resolved is None else d(resolved),
    )


# Item 1 enters Support on d3, goes back to Dev on d4, reaches Legal d6 and Done d9.
ITEM_1 = path(1, (BACKLOG, 0), (DEV, 1), (SUPPORT, 3), (DEV, 4), (LEGAL, 6), (DONE, 9))
ITEM_2 = path(2, (BACKLOG, 0), (DEV, 1), (DONE, 5))  # never in readiness
ITEM_3 = path(3, (BACKLOG, 0), (DEV, 2), (LEGAL, 4))  # in readiness, not delivered
ITEM_5 = path(5, (DEV, 0), (SUPPORT, 2), (DONE, 6))
ITEM_10 = path(10, (DEV, 0), (LEGAL, 1), (DONE, 9.5))
ITEM_11 = path(11, (DEV, 0), (SUPPORT, 0.5), (DONE, 1))
ITEM_9 = path(9, (DEV, 0), (LEGAL, 1), (DONE, 2))  # discarded in the summary test


@pytest.mark.parametrize(
    ("moves", "delivered_at", "expected"),
    [
        (ITEM_1, d(9), 6 * DAY),  # first readiness entry d3 (not the later d6) -> 9 - 3
        (list(reversed(ITEM_1)), d(9), 6 * DAY),  # raw log in any order
        (ITEM_2, d(5), None),  # never in readiness
        (ITEM_3, None, None),  # not delivered
        (ITEM_5, d(6), 4 * DAY),
        (ITEM_11, d(1), 0.5 * DAY),
        # Delivered d2, then moved back into Support d3 (the caller's delivered_at is d2):
        # a readiness entry after the delivery belongs to no delivered cycle.
        (path(4, (DEV, 0), (DONE, 2), (SUPPORT, 3)), d(2), None),
    ],
)
def test_readiness_lead_time(moves, delivered_at, expected):
    assert readiness_lead_time(moves, BOARD, delivered_at) == expected


def test_readiness_entered_at_is_the_first_raw_entry():
    assert readiness_entered_at(reversed(ITEM_1), BOARD) == d(3)
    assert readiness_entered_at(ITEM_2, BOARD) is None


@pytest.mark.parametrize(
    ("kwargs", "entered", "expected"),
    [
        ({"added": 1, "resolved": 5}, d(3), 2 * DAY),  # from entry d3 (later than added d1)
        ({"added": 4, "resolved": 5}, d(3), 1 * DAY),  # from added d4 (later than entry d3)
        ({"added": 1, "resolved": 6, "status": "waived"}, d(3), 3 * DAY),  # a waiver resolves
        ({"added": 0, "resolved": 2}, d(3), 0.0),  # met before readiness: held nothing up
        ({"added": 1, "resolved": None}, d(3), None),  # pending
        ({"added": 1, "resolved": 5}, None, None),  # item never entered readiness
    ],
)
def test_criterion_wait(kwargs, entered, expected):
    assert criterion_wait(criterion(1, 1, "legal", **kwargs), entered) == expected


def test_criterion_wait_needs_a_resolution_time():
    broken = dataclasses.replace(criterion(1, 1, "legal", added=1, resolved=5), resolved_at=None)
    assert broken.status == "met"
    assert criterion_wait(broken, d(3)) is None


# Item 1's criteria (delivered d9, readiness entered d3).
A = criterion(1, 1, "legal", added=0, resolved=8)  # last required before d9 -> critical
B = criterion(2, 1, "docs", added=0, resolved=5.5, status="waived", gate=LEGAL)
C = criterion(3, 1, "gtm", added=5, resolved=8.5, required=False)  # later, but optional
D = criterion(4, 1, "ops", added=0, resolved=10)  # met after delivery
E = criterion(5, 1, "support", added=0, resolved=None)  # pending
ITEM_1_CRITERIA = [A, B, C, D, E]
# Item 5's criteria (delivered d6, readiness entered d2).
F = criterion(6, 5, "legal", added=1, resolved=3)
G = criterion(7, 5, "docs", added=4, resolved=5)  # critical for item 5


@pytest.mark.parametrize(
    ("criteria", "opened", "gate", "expected"),
    [
        (ITEM_1_CRITERIA, d(9), None, A),
        (ITEM_1_CRITERIA, d(8), None, A),  # resolved exactly when the gate opened counts
        (ITEM_1_CRITERIA, d(7.9), None, B),  # A not met yet: the waived docs criterion
        (ITEM_1_CRITERIA, d(11), None, D),
        (ITEM_1_CRITERIA, d(6), LEGAL, B),  # only the Legal gate's criteria compete
        (ITEM_1_CRITERIA, d(5), None, None),  # nothing required resolved yet
        ([C, E], d(20), None, None),  # optional and pending never count
        ([F, G], d(6), None, G),
        ([], d(6), None, None),
    ],
)
def test_critical_criterion(criteria, opened, gate, expected):
    assert critical_criterion(criteria, opened, gate) == expected


def test_critical_criterion_tie_goes_to_the_last_listed():
    first = criterion(1, 1, "legal", added=0, resolved=8)
    second = criterion(2, 1, "docs", added=0, resolved=8)
    assert critical_criterion([first, second], d(9)) == second
    assert critical_criterion([second, first], d(9)) == first


def test_track_summary_hand_worked():
    # Waits (days): A legal 8-3 = 5, B docs 5.5-3 = 2.5, C gtm 8.5-5 = 3.5, D ops 10-3 = 7,
    # E pending; F legal 3-2 = 1, G docs 5-4 = 1.
    # Medians (lower middle): legal [1, 5] -> 1; docs [1, 2.5] -> 1; gtm 3.5; ops 7.
    # Critical: item 1 -> A (legal), item 5 -> G (docs), item 6 has no criteria: 3 delivered.
    result = track_summary(
        ITEM_1_CRITERIA + [F, G],
        readiness_entered={1: d(3), 5: d(2)},
        delivered={1: d(9), 5: d(6), 6: d(7)},
    )
    assert result == {
        "docs": {
            "criteria": 2,
            "waits": 2,
            "median_wait_days": 1.0,
            "critical": 1,
            "critical_share": 1 / 3,
        },
        "gtm": {
            "criteria": 1,
            "waits": 1,
            "median_wait_days": 3.5,
            "critical": 0,
            "critical_share": 0.0,
        },
        "legal": {
            "criteria": 2,
            "waits": 2,
            "median_wait_days": 1.0,
            "critical": 1,
            "critical_share": 1 / 3,
        },
        "ops": {
            "criteria": 1,
            "waits": 1,
            "median_wait_days": 7.0,
            "critical": 0,
            "critical_share": 0.0,
        },
        "support": {
            "criteria": 1,
            "waits": 0,
            "median_wait_days": None,
            "critical": 0,
            "critical_share": 0.0,
        },
    }
    assert list(result) == ["docs", "gtm", "legal", "ops", "support"]


def test_track_summary_without_delivered_items_has_no_share():
    result = track_summary([F], readiness_entered={5: d(2)}, delivered={})
    assert result == {
        "legal": {
            "criteria": 1,
            "waits": 1,
            "median_wait_days": 1.0,
            "critical": 0,
            "critical_share": None,
        }
    }


def refusal(item: int, gate: int, days: float) -> RefusalInfo:
    return RefusalInfo(item, gate, d(days))


def test_gate_wait_from_first_refusal_to_passing():
    # Legal refused the item on d5 and d4.5 (listed out of order): the first is d4.5; it reached
    # Legal on d6 -> 1.5 days. Done refused it on d7; it was delivered on d9 -> 2 days.
    refusals = [refusal(1, LEGAL, 5), refusal(1, LEGAL, 4.5), refusal(1, DONE, 7)]
    assert gate_wait(refusals, ITEM_1, BOARD, now=d(10)) == {
        LEGAL: {
            "first_refused_at": d(4.5),
            "passed_at": d(6),
            "wait_seconds": 1.5 * DAY,
            "waiting_seconds": None,
        },
        DONE: {
            "first_refused_at": d(7),
            "passed_at": d(9),
            "wait_seconds": 2 * DAY,
            "waiting_seconds": None,
        },
    }


def test_gate_wait_ignores_entries_before_the_refusal_and_counts_skips():
    # In Legal on d1, back to Dev on d2, refused at Legal on d3, let in on d5 -> 2 days.
    # Refused at Support on d0.5, then moved straight past it into Legal on d1 -> 0.5 days.
    moves = path(7, (DEV, 0), (LEGAL, 1), (DEV, 2), (LEGAL, 5))
    waits = gate_wait([refusal(7, LEGAL, 3), refusal(7, SUPPORT, 0.5)], moves, BOARD)
    assert waits[LEGAL]["wait_seconds"] == 2 * DAY
    assert waits[SUPPORT]["passed_at"] == d(1)
    assert waits[SUPPORT]["wait_seconds"] == 0.5 * DAY
    assert list(waits) == [SUPPORT, LEGAL]  # board order


def test_gate_wait_not_passed_yet():
    waits = gate_wait([refusal(3, DONE, 8)], ITEM_3, BOARD, now=d(10))
    assert waits == {
        DONE: {
            "first_refused_at": d(8),
            "passed_at": None,
            "wait_seconds": None,
            "waiting_seconds": 2 * DAY,
        }
    }
    assert gate_wait([refusal(3, DONE, 8)], ITEM_3, BOARD)[DONE]["waiting_seconds"] is None


def test_times_are_elapsed_across_dst():
    # Paris: 29 Mar 2025 12:00 (UTC+1) to 30 Mar 12:00 (UTC+2) is 23 hours, not 24.
    paris = ZoneInfo("Europe/Paris")
    board = BoardInfo(BOARD.columns, DEV, DONE, tz=paris)
    moves = [
        Move(1, None, SUPPORT, dt.datetime(2025, 3, 29, 12, tzinfo=paris)),
        Move(1, SUPPORT, DONE, dt.datetime(2025, 3, 30, 12, tzinfo=paris)),
    ]
    assert readiness_lead_time(moves, board, moves[1].at) == 23 * 3600.0


SUMMARY_MOVES = ITEM_1 + ITEM_2 + ITEM_3 + ITEM_5 + ITEM_10 + ITEM_11 + ITEM_9
SUMMARY_CRITERIA = [
    *ITEM_1_CRITERIA,
    F,
    G,
    criterion(8, 3, "legal", added=0, resolved=5),  # item 3 is not delivered: not in the cohort
    criterion(9, 9, "ops", added=0, resolved=1.5),  # item 9 is discarded
]
SUMMARY_REFUSALS = [
    refusal(1, LEGAL, 5),
    refusal(1, LEGAL, 4.5),
    refusal(1, DONE, 7),
    refusal(3, DONE, 8),
    refusal(9, DONE, 1.5),
]


def test_readiness_summary_hand_worked():
    result = readiness_summary(
        BOARD, SUMMARY_MOVES, SUMMARY_CRITERIA, SUMMARY_REFUSALS, d(10), discarded={9}
    )
    # Delivered: 1 (d9), 2 (d5), 5 (d6), 10 (d9.5), 11 (d1) -> 5 items.
    assert result["delivered"] == 5
    # Cohort criteria are those of items 1 and 5: the same waits as in the track test, with
    # shares over 5 delivered items.
    assert result["tracks"]["legal"] == {
        "criteria": 2,
        "waits": 2,
        "median_wait_days": 1.0,
        "critical": 1,
        "critical_share": 0.2,
    }
    assert result["tracks"]["docs"]["critical_share"] == 0.2
    assert set(result["tracks"]) == {"docs", "gtm", "legal", "ops", "support"}
    # Readiness lead time (item 2 never went through readiness):
    #   item 11: d0.5 -> d1 = 0.5 d, dates 3 Mar 21:00 -> 4 Mar 09:00 = 1 + 1 = 2 days
    #   item 5:  d2 -> d6 = 4 d, 5 days;   item 1: d3 -> d9 = 6 d, 7 days
    #   item 10: d1 -> d9.5 = 8.5 d, 4 Mar -> 12 Mar 21:00 = 8 + 1 = 9 days
    # n = 4: p50 index floor(3 * 0.5) = 1, p85 index floor(3 * 0.85) = 2.
    assert result["lead_time"] == {
        "count": 4,
        "exact_seconds": {50: 4 * DAY, 85: 6 * DAY},
        "days": {50: 5, 85: 7},
    }
    # Gates: Legal passed by item 1 after 1.5 d; Done passed by item 1 after 2 d and still
    # refusing item 3 since d8 (2 days at d10). Item 9's refusal is discarded with it.
    assert result["gates"] == {
        LEGAL: {
            "passed": 1,
            "median_wait_days": 1.5,
            "p85_wait_days": 1.5,
            "waiting": 0,
            "oldest_waiting_days": None,
        },
        DONE: {
            "passed": 1,
            "median_wait_days": 2.0,
            "p85_wait_days": 2.0,
            "waiting": 1,
            "oldest_waiting_days": 2.0,
        },
    }


def test_readiness_summary_window():
    # Window [d6.5, d9.25): only item 1 (d9) is delivered in it. Item 1 passed Legal on d6,
    # before the window; it passed Done on d9, inside. Item 3 is still waiting whatever the window.
    result = readiness_summary(
        BOARD,
        SUMMARY_MOVES,
        SUMMARY_CRITERIA,
        SUMMARY_REFUSALS,
        d(10),
        window_start=d(6.5),
        window_end=d(9.25),
        discarded={9},
    )
    assert result["delivered"] == 1
    assert result["tracks"]["legal"]["critical_share"] == 1.0
    assert result["tracks"]["legal"]["median_wait_days"] == 5.0  # only A: 8 - 3
    assert "docs" in result["tracks"] and result["tracks"]["docs"]["critical"] == 0
    assert result["lead_time"] == {
        "count": 1,
        "exact_seconds": {50: 6 * DAY, 85: 6 * DAY},
        "days": {50: 7, 85: 7},
    }
    assert result["gates"][LEGAL]["passed"] == 0
    assert result["gates"][LEGAL]["median_wait_days"] is None
    assert result["gates"][DONE]["passed"] == 1
    assert result["gates"][DONE]["waiting"] == 1


def test_readiness_summary_of_an_empty_board():
    assert readiness_summary(BOARD, [], [], [], d(10)) == {
        "delivered": 0,
        "tracks": {},
        "lead_time": {
            "count": 0,
            "exact_seconds": {50: None, 85: None},
            "days": {50: None, 85: None},
        },
        "gates": {},
    }


def test_functional_criteria_are_not_readiness_tracks():
    """A functional criterion met last (code reviewed on d9) is not the critical readiness
    criterion: the legal one met on d6 is, and the functional one has no track figures."""
    functional = dataclasses.replace(
        criterion(90, 5, "development", added=2, resolved=5.9), category="functional"
    )
    legal = criterion(91, 5, "legal", added=2, resolved=5.5)
    result = readiness_summary(BOARD, SUMMARY_MOVES, [functional, legal], [], d(10))
    assert set(result["tracks"]) == {"legal"}
    assert result["tracks"]["legal"]["critical"] == 1
