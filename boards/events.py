"""Events of a board for the outside world (``boards.models.Event``): the services record them
in the transaction of the change; once it commits, the listeners are told which board has new
events. ``integrations`` listens, and sends the outbound webhooks subscribed to them.

The listeners are an explicit list that apps extend in ``AppConfig.ready`` (boards does not
import the apps built on it). They are called after the commit and are told a board id only:
each reads the events it has not handled yet, so a listener that fails loses nothing.
"""

import datetime as dt
from collections.abc import Callable

from django.db import transaction

from boards.models import Board, Event, WorkItem

Listener = Callable[[int], None]
listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    if listener not in listeners:
        listeners.append(listener)


def record(
    board: Board | int, kind: str, at: dt.datetime, data: dict, item: WorkItem | None = None
) -> Event:
    """Write the event; once the transaction commits, tell the listeners. Call inside the
    transaction that made the change."""
    board_id = board if isinstance(board, int) else board.pk
    event = Event.objects.create(board_id=board_id, item=item, kind=kind, data=data, at=at)
    for listener in listeners:
        transaction.on_commit(lambda listener=listener: listener(board_id), robust=True)
    return event


def item_data(item: WorkItem) -> dict:
    return {
        "item": {
            "id": item.pk,
            "key": item.key,
            "title": item.title,
            "kind": item.kind,
            "external_source": item.external_source,
            "external_key": item.external_key,
        }
    }
