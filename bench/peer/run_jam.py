"""Time jira-agile-metrics' CycleTimeCalculator and CFDCalculator on a Flowboard import CSV.

Run with the peer venv's python (``bench.peer.venv.ensure_venv()`` returns it):

    python bench/peer/run_jam.py --csv FILE --columns COLUMNS --commitment Ready
        --delivery Released [--repeat 3] [--tz Europe/Paris] [--show KEY ...]

with COLUMNS one comma-separated argument, e.g. "Backlog,Ready,In development,Code review,
Testing,Ready for release,Business readiness,Released,Operating" (without the line break).

The CSV is Flowboard's import format (``key,title,kind,created_at,to_column,at``, one row per
move, rows of a key in time order). Its items become in-memory fakes of the JIRA objects that
jira-agile-metrics reads (the same shape as ``FauxJIRA``/``FauxIssue``/``FauxChange`` in the
package's own ``conftest.py``, redefined here because that module imports pytest): one issue per
key, whose changelog holds one ``status`` change per move. No network is used.

The cycle has one step per column, each mapped to the status of the same name. Columns before
``--commitment`` are ``backlog`` steps, the commitment column up to the one before ``--delivery``
are ``accepted``, the delivery column and after are ``complete``; so jira-agile-metrics' cycle
time is date(first complete step) - date(first accepted step), i.e. delivery - commitment, in
whole days (no +1). Dates are the wall-clock dates of the timestamps as written (jira-agile-metrics
drops the offset of changelog times); ``--tz`` converts every time into that zone first, to match
a board's zone.

Stdout gets one JSON line at the end; everything else (logging, warnings, --show) goes to stderr.
Timed: ``setup_seconds`` = reading the CSV and building the fake issues (and the QueryManager);
``cycletime_seconds`` and ``cfd_seconds`` = best of ``--repeat`` runs of each calculator's
``run()``. Not timed: interpreter start and imports, and the calculators' ``write()`` (no file or
chart is written).
"""

import os
import sys

# Before matplotlib is imported (jira-agile-metrics imports it at module level): no display, and
# its font cache inside the venv rather than the user's home directory.
os.environ.setdefault("MPLBACKEND", "Agg")
if sys.prefix != sys.base_prefix:
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(sys.prefix, "mplconfig"))

import argparse
import csv
import datetime as dt
import gc
import json
import logging
import resource
import time
from importlib.metadata import version

from jira_agile_metrics.calculators.cfd import CFDCalculator
from jira_agile_metrics.calculators.cycletime import CycleTimeCalculator
from jira_agile_metrics.querymanager import QueryManager

log = logging.getLogger("run_jam")

# --- fakes of the JIRA API, as in jira_agile_metrics/conftest.py ------------------------------


class FauxFieldValue:
    """A complex field value, with a name and a typed value."""

    def __init__(self, name, value):
        self.name = name
        self.value = value


class FauxFields:
    """Container for ``issue.fields``."""

    def __init__(self, fields):
        self.__dict__.update(fields)


class FauxChangeItem:
    """An item in a changelog change."""

    def __init__(self, field, fromString, toString):
        self.field = field
        self.from_ = self.fromString = fromString
        self.to = self.toString = toString


class FauxChange:
    """A change in a changelog: a creation time and a list of items."""

    def __init__(self, created, items):
        self.created = created
        self.items = [FauxChangeItem(*i) for i in items]


class FauxChangelog:
    def __init__(self, changes):
        self.histories = changes


class FauxIssue:
    def __init__(self, key, changes, **fields):
        self.key = key
        self.fields = FauxFields(fields)
        self.changelog = FauxChangelog(changes)


class FauxJIRA:
    """``fields()`` and ``search_issues()``: all that QueryManager and the calculators call."""

    def __init__(self, fields, issues, options=None):
        self._options = options or {"server": "https://jira.invalid"}
        self._fields = fields
        self._issues = issues

    def fields(self):
        return self._fields

    def search_issues(self, jql, *args, **kwargs):
        return self._issues


# The fields QueryManager resolves: `status`, and `Flagged` (iter_changes watches it for
# impediments; the CSV has none, so every issue's value is None).
FIELDS = [
    {"id": "summary", "name": "Summary"},
    {"id": "issuetype", "name": "Issue type"},
    {"id": "status", "name": "Status"},
    {"id": "resolution", "name": "Resolution"},
    {"id": "created", "name": "Created date"},
    {"id": "customfield_100", "name": "Flagged"},
]

# --- CSV -> fake issues -----------------------------------------------------------------------


def parse_time(text, tz):
    value = dt.datetime.fromisoformat(text)
    if tz is not None:
        value = value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    return value


def read_histories(path, first_column, tz):
    """{key: [kind, title, [(status, time string), ...]]} and the number of CSV rows.

    As Flowboard's importer: the first row of a key creates the item at ``created_at`` in
    ``to_column`` when ``at`` is blank or equal to ``created_at``; when ``at`` is later the item
    is created in the first column and moved into ``to_column`` at ``at``. Later rows are moves.
    Times are kept as written unless ``tz`` is given (then converted into it, naive ones read in
    it); jira-agile-metrics parses the strings itself, as it would JIRA's.
    """
    items = {}
    rows = 0
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader)]
        ki, ti, kd, ci, co, ai = (
            header.index(h) for h in ("key", "title", "kind", "created_at", "to_column", "at")
        )
        for row in reader:
            if not row or not row[ki].strip():
                continue
            rows += 1
            key, column, at = row[ki].strip(), row[co].strip(), row[ai].strip()
            item = items.get(key)
            if item is None:
                created = row[ci].strip()
                created_t = parse_time(created, tz)
                at_t = parse_time(at, tz) if at else created_t
                created_s = created_t.isoformat() if tz is not None else created
                moves = []
                if at_t > created_t:
                    moves.append((first_column, created_s))
                    moves.append((column, at_t.isoformat() if tz is not None else at))
                else:
                    moves.append((column, created_s))
                items[key] = [row[kd].strip() or "feature", row[ti].strip(), moves]
            else:
                if tz is not None:
                    at = parse_time(at, tz).isoformat()
                item[2].append((column, at))
    return items, rows


def build_issues(items, complete_statuses):
    """FauxIssues: the creation is the issue's ``created``; each later move a status change."""
    issues = []
    changes = 0
    kinds = {}
    for key, (kind, title, moves) in items.items():
        histories = []
        current, created = moves[0]
        resolved_at = created if current in complete_statuses else None
        for column, at in moves[1:]:
            histories.append(FauxChange(at, [("status", current, column)]))
            current = column
            if current in complete_statuses:
                if resolved_at is None:
                    resolved_at = at
            else:
                resolved_at = None
        changes += len(histories)
        issuetype = kinds.get(kind)
        if issuetype is None:
            issuetype = kinds[kind] = FauxFieldValue(kind, kind)
        issues.append(
            FauxIssue(
                key,
                histories,
                summary=title,
                issuetype=issuetype,
                status=FauxFieldValue(current, current),
                resolution=FauxFieldValue("Done", "Done") if resolved_at else None,
                resolutiondate=resolved_at,
                created=created,
                customfield_100=None,
            )
        )
    return issues, changes


def settings_for(columns, backlog, commitment, delivery):
    """jira-agile-metrics settings, as its config parser would make them, with explicit types.

    Its YAML parser (config.py, 0.24) makes the first workflow step ``backlog``, the last
    ``complete`` and all others ``accepted``, whatever ``Committed column``/``Done column`` say
    (those only feed the WIP, net-flow, burn-up... calculators). The cycle is built directly here,
    as the package's conftest does, so that the delivery column is the first ``complete`` step.
    """
    for name in (backlog, commitment, delivery):
        if name not in columns:
            sys.exit(f"{name!r} is not one of the columns {columns}")
    c, d = columns.index(commitment), columns.index(delivery)
    if not c < d:
        sys.exit("the commitment column must come before the delivery column")
    cycle = [
        {
            "name": name,
            "statuses": [name],
            "type": "backlog" if i < c else "accepted" if i < d else "complete",
        }
        for i, name in enumerate(columns)
    ]
    return {
        "attributes": {},
        "known_values": {},
        "max_results": None,
        "verbose": False,
        "queries": [{"jql": "project = FB", "value": None}],
        "query_attribute": None,
        "cycle": cycle,
        "backlog_column": backlog,
        "committed_column": commitment,
        "final_column": columns[d - 1],
        "done_column": delivery,
        # write() is never called; these say "no output" should anyone call it.
        "cycle_time_data": None,
        "cfd_data": None,
        "cfd_chart": None,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", required=True, help="Flowboard import CSV")
    p.add_argument("--columns", required=True, help="comma-separated board columns, in order")
    p.add_argument("--commitment", required=True, help="commitment column (first 'accepted')")
    p.add_argument("--delivery", required=True, help="delivery column (first 'complete')")
    p.add_argument("--backlog", help="backlog column (default: the first column)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each calculator (best is kept)")
    p.add_argument(
        "--tz", help="IANA zone to convert every time into before dating (default: none)"
    )
    p.add_argument(
        "--show",
        action="append",
        default=[],
        metavar="KEY",
        help="print this item's cycle-time row to stderr (repeatable)",
    )
    args = p.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.captureWarnings(True)

    columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    backlog = args.backlog or columns[0]
    settings = settings_for(columns, backlog, args.commitment, args.delivery)
    complete = {s["name"] for s in settings["cycle"] if s["type"] == "complete"}
    tz = None
    if args.tz:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(args.tz)

    # The cyclic collector is off while the fakes are built: millions of young objects would
    # otherwise trigger full collections that cost more than the building (x5 at 1M moves). It is
    # back on, as in any jira-agile-metrics run, while the calculators are timed.
    gc.disable()
    started = time.perf_counter()
    items, rows = read_histories(args.csv, columns[0], tz)
    issues, changes = build_issues(items, complete)
    del items
    query_manager = QueryManager(FauxJIRA(FIELDS, issues), settings)
    setup = time.perf_counter() - started
    gc.enable()
    print(
        f"setup: {len(issues)} issues, {changes} status changes from {rows} rows in {setup:.2f}s",
        file=sys.stderr,
    )

    best_ct = best_cfd = float("inf")
    cycle_data = cfd_data = None
    for run in range(max(1, args.repeat)):
        cycle_data = cfd_data = None
        gc.collect()
        results = {}
        t0 = time.perf_counter()
        cycle_data = CycleTimeCalculator(query_manager, settings, results).run()
        t1 = time.perf_counter()
        results[CycleTimeCalculator] = cycle_data
        cfd_data = CFDCalculator(query_manager, settings, results).run()
        t2 = time.perf_counter()
        best_ct, best_cfd = min(best_ct, t1 - t0), min(best_cfd, t2 - t1)
        print(f"run {run + 1}: cycletime {t1 - t0:.3f}s, cfd {t2 - t1:.3f}s", file=sys.stderr)

    delivered = int(cycle_data["completed_timestamp"].notna().sum())
    print(
        f"cycle data {cycle_data.shape}, cfd {cfd_data.shape} "
        f"({cfd_data.index.min()} .. {cfd_data.index.max()})",
        file=sys.stderr,
    )
    if args.show:
        shown = cycle_data[cycle_data["key"].isin(args.show)]
        fields = [
            "key",
            "status",
            args.commitment,
            args.delivery,
            "completed_timestamp",
            "cycle_time",
        ]
        for record in shown[fields].itertuples(index=False):
            pairs = zip(fields, record, strict=True)
            print("show: " + ", ".join(f"{f}={v}" for f, v in pairs), file=sys.stderr)

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "items": len(issues),
                "changes": changes,
                "setup_seconds": round(setup, 4),
                "cycletime_seconds": round(best_ct, 4),
                "cfd_seconds": round(best_cfd, 4),
                "calculators_seconds": round(best_ct + best_cfd, 4),
                "delivered": delivered,
                "version": version("jira-agile-metrics"),
                "peak_rss_mb": round(peak_kib / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
