"""``manage.py import_history``: load the past moves of work items from Jira or a CSV file.

    manage.py import_history --format jira --board sp \\
        --columns "Backlog,Selected for Development,In Progress,Review,Done" \\
        --commitment "Selected for Development" --delivery Done --timezone UTC \\
        --map "Ready=Selected for Development" issues/*.json
    manage.py import_history --format csv --board pay moves.csv

Parsing and applying live in ``boards.importing``; this command reads the files, finds or creates
the board, shows progress and prints the summary. Rows it cannot use are reported and skipped, and
the import goes on; only an unusable invocation exits with an error. Running it again on the
same files changes nothing, and running it again after a crash finishes the job.

Several files, in one run or in several, add up: a file may continue items that an earlier file
created (see ``boards.importing.csv``). Each problem names the file it came from. On a terminal,
the import and the metrics recompute that ends it show a progress bar with items/s and the time
left; piped or redirected output has none.

Bad data is reported with its location, counted and skipped, never a traceback: a Jira issue or
history of the wrong shape (by key and history id), a CSV row with a bad or out-of-range time
(1970..2999), an oversized field or a NUL character (by file and line), a whole file that cannot
be read or parsed, and an item the database refuses (rolled back alone).

In a CSV file, the first row of a key creates the item at ``created_at``. If its ``at`` is blank
or equals ``created_at``, the item is created in ``to_column``; if ``at`` is later, the item is
created in the board's first column and moved into ``to_column`` at ``at`` (its own transition,
so the cycle starts at ``at``); an ``at`` before ``created_at`` is reported as malformed.
"""

import csv
import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from boards import importing, setup
from boards.importing import records
from boards.models import Board, Column, validate_time_zone
from flowboard.errors import FlowboardError

SHOWN_LOCATIONS = 5
PARSE_ERRORS = (
    csv.Error,
    AttributeError,
    KeyError,
    OverflowError,
    RecursionError,
    TypeError,
    ValueError,
)


class Progress:
    """A tqdm bar on the command's output while it is a terminal; nothing otherwise."""

    def __init__(self, stdout, total: int, unit: str, description: str) -> None:
        self.bar = None
        if stdout.isatty() and total > 0:
            self.bar = tqdm(
                total=total, unit=unit, desc=description, file=stdout, dynamic_ncols=True
            )

    def advance(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def reach(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    # A data command, timed against other tools: the system checks run in CI, on deploy and
    # with every migrate, not again on every import.
    requires_system_checks = []
    help = (
        "Import the history of work items (creation and moves) from Jira JSON or a CSV file. "
        "Malformed issues, histories, rows and files are reported with their location and "
        "skipped; the import goes on."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--format",
            required=True,
            choices=sorted(importing.PARSERS),
            help="jira: REST issues with expand=changelog (one issue, a list, or a search "
            "result). csv: rows key,title,kind,created_at,to_column,at, one per move; the first "
            "row of a key creates the item at created_at, in to_column if at is blank or equal "
            "to created_at, else in the board's first column and then moved to to_column at "
            "at.",
        )
        parser.add_argument("--board", required=True, metavar="SLUG")
        parser.add_argument(
            "--columns",
            help='Create the board with these columns, in order: "Backlog,Committed,Build,Done".',
        )
        parser.add_argument("--commitment", help="The commitment column of a new board.")
        parser.add_argument("--delivery", help="The delivery column of a new board.")
        parser.add_argument("--timezone", help="The time zone of a new board (default UTC).")
        parser.add_argument(
            "--key-prefix", help="Key prefix of a new board (default: the slug in upper case)."
        )
        parser.add_argument(
            "--map",
            default="",
            metavar="STATUS=COLUMN,...",
            help='Map external statuses to columns: "Next=Committed,QA=Test". A status named '
            "like a column maps to it without being listed. Case is ignored.",
        )

    def handle(self, *args, **options):
        paths = [Path(name) for name in options["files"]]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file.")
        try:
            mapping = importing.parse_mapping(options["map"])
        except ValueError as error:
            raise CommandError(f"--map: {error}.") from None
        # A board created for this import is rolled back if the mapping doesn't fit it.
        with transaction.atomic():
            board = self._board(options)
            try:
                columns = importing.ColumnMap(board.columns.order_by("position"), mapping)
            except ValueError as error:
                raise CommandError(f"--map: {error}.") from None

        reading = time.perf_counter()
        parse = importing.PARSERS[options["format"]]
        report = importing.ImportReport()
        histories = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as error:
                report.problems.append(importing.Problem(records.BAD_FILE, str(path), str(error)))
                continue
            try:
                items, problems = parse(text, tz=board.tz, name=path.name)
            except PARSE_ERRORS as error:
                # The parsers report bad data themselves; this is the last line of defence so
                # that one file never stops the others.
                detail = f"{type(error).__name__}: {error}"[:200]
                report.problems.append(importing.Problem(records.BAD_FILE, str(path), detail))
                continue
            histories.extend(items)
            report.problems.extend(problems)

        report.seconds["read"] = time.perf_counter() - reading
        items = Progress(self.stdout, len(histories), "items", "Importing")
        recompute = None

        def on_recompute(done: int, total: int) -> None:
            nonlocal recompute
            if recompute is None:
                items.close()
                recompute = Progress(self.stdout, total, "items", "Recomputing metrics")
            recompute.reach(done, total)

        try:
            importing.import_histories(
                board,
                histories,
                columns=columns,
                report=report,
                on_items=items.advance,
                on_recompute=on_recompute,
            )
        finally:
            items.close()
            if recompute is not None:
                recompute.close()
        self._summary(board, report)
        if options["verbosity"] >= 2:
            phases = ", ".join(f"{name} {took:.2f} s" for name, took in report.seconds.items())
            self.stdout.write(f"Time: {phases}.")

    def _board(self, options) -> Board:
        slug = options["board"]
        board = Board.objects.filter(slug=slug).first()
        creation = ["columns", "commitment", "delivery", "timezone", "key_prefix"]
        given = [f"--{name.replace('_', '-')}" for name in creation if options[name]]
        if board is not None:
            if given:
                ignored = ", ".join(given)
                self.stdout.write(f"Board {slug} exists; ignoring {ignored} (edit in the admin).")
            return board
        if not options["columns"]:
            raise CommandError(
                f"There is no board {slug!r}. To create it, pass --columns, --commitment and "
                "--delivery."
            )
        board = self._create_board(slug, options)
        self.stdout.write(f"Created board {slug} with columns {', '.join(self._names(board))}.")
        return board

    def _create_board(self, slug: str, options) -> Board:
        names = [name.strip() for name in options["columns"].split(",") if name.strip()]
        canonical = {name.lower(): name for name in names}
        points = {}
        for point in ("commitment", "delivery"):
            value = (options[point] or "").strip()
            if not value:
                raise CommandError(f"Creating board {slug!r} needs --{point} (one of the columns).")
            if value.lower() not in canonical:
                raise CommandError(
                    f"--{point} {value!r} is not one of the columns {', '.join(names)}."
                )
            points[point] = canonical[value.lower()]
        time_zone = options["timezone"] or "UTC"
        try:
            validate_time_zone(time_zone)
        except ValidationError:
            raise CommandError(f"--timezone {time_zone!r} is not a known IANA time zone.") from None
        start, end = names.index(points["commitment"]), names.index(points["delivery"])
        specs = [
            setup.ColumnSpec(name, stage=_stage(position, start, end))
            for position, name in enumerate(names)
        ]
        key_prefix = options["key_prefix"] or slug.upper()[:10]
        try:
            return setup.board_create(
                name=slug,
                slug=slug,
                key_prefix=key_prefix,
                columns=specs,
                commitment=points["commitment"],
                delivery=points["delivery"],
                time_zone=time_zone,
            )
        except FlowboardError as error:
            raise CommandError(error.message) from None
        except ValidationError as error:
            messages = "; ".join(error.messages)
            raise CommandError(f"Cannot create board {slug!r}: {messages}") from None

    @staticmethod
    def _names(board: Board) -> list[str]:
        return list(board.columns.order_by("position").values_list("name", flat=True))

    def _summary(self, board: Board, report: importing.ImportReport) -> None:
        write = self.stdout.write
        write(f"Imported into board {board.slug}:")
        write(f"  items created: {report.items_created}")
        write(f"  items already present: {report.items_present}")
        write(f"  transitions written: {report.transitions_written}")
        write(f"  unchanged (already imported): {report.unchanged}")
        write(f"  no-op (already in the column): {report.no_op}")
        write(f"  skipped: {len(report.problems)}")
        for reason, problems in report.by_reason().items():
            write(f"    {reason}: {len(problems)}")
            for problem in problems[:SHOWN_LOCATIONS]:
                write(f"      {problem}")
            if len(problems) > SHOWN_LOCATIONS:
                write(f"      ... and {len(problems) - SHOWN_LOCATIONS} more")


def _stage(position: int, commitment: int, delivery: int) -> str:
    """Before the commitment point is upstream, from it to the delivery point is development,
    and the delivery column and after are done. An ops lead refines this in the admin."""
    if position < commitment:
        return Column.Stage.UPSTREAM
    if position < delivery:
        return Column.Stage.DEVELOPMENT
    return Column.Stage.DONE
