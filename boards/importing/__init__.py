"""Importing the history of work items from other tools (``manage.py import_history``).

- ``jira``: Jira issues with their changelog (REST ``expand=changelog``, or exports without ids);
- ``csv``: rows ``key,title,kind,created_at,to_column,at``, one per move;
- ``apply``: the bulk service that applies what the parsers read to a board;
- ``records``: what the parsers produce and the import report.

Parsing is pure; only ``apply`` touches the database.
"""

from boards.importing.apply import ColumnMap, import_histories, parse_mapping
from boards.importing.csv import parse_csv
from boards.importing.jira import parse_jira
from boards.importing.records import ImportReport, ItemHistory, Move, Problem

PARSERS = {"jira": parse_jira, "csv": parse_csv}

__all__ = [
    "PARSERS",
    "ColumnMap",
    "ImportReport",
    "ItemHistory",
    "Move",
    "Problem",
    "import_histories",
    "parse_csv",
    "parse_jira",
    "parse_mapping",
]
