"""From an external status to a board column: the integration's mapping first (any case), then
a column of the same name."""

from boards.models import Board, Column


def resolve(columns, mapping: dict, status: str) -> Column | None:
    wanted = (status or "").strip().lower()
    if not wanted:
        return None
    by_name = {c.name.lower(): c for c in columns}
    for name, target in (mapping or {}).items():
        if name.strip().lower() == wanted:
            return by_name.get(str(target).strip().lower())
    return by_name.get(wanted)


def column_for_status(board: Board, source: str, status: str) -> Column | None:
    """The column of ``status`` for items of ``source`` on ``board`` (the upsert API): the
    mapping of the board's integration of that kind, if there is one."""
    from integrations.models import Integration  # models import mapping for validation

    columns = list(board.columns.order_by("position"))
    integration = Integration.objects.filter(board=board, kind=source, active=True).first()
    return resolve(columns, integration.mapping if integration else {}, status)
