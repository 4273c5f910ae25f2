"""Running part of a computation in a forked process with its own database connection, so a
large recompute uses both of a machine's cores.

The child reads the committed log through a new connection, computes, and sends its result
(plain data, pickled) back through a pipe; an exception in the child is re-raised in the parent.
billiard (Celery's multiprocessing) rather than the standard library's: a prefork worker's
processes are daemonic, and only billiard lets a daemonic process start a child.
"""

import multiprocessing
from collections.abc import Callable
from typing import Any

import billiard
from django.db import connection, connections

_inherited: list = []


def available() -> bool:
    """Whether a forked process can reach the same data: a PostgreSQL server, or an SQLite file
    (in WAL mode, read while the parent writes); not an in-memory SQLite database."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and not connection.is_in_memory_db()


class Forked:
    """``function(*args)`` started in a forked process; ``result()`` waits for its value."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        context = billiard.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_run, args=(sender, function, args))
        self._process.start()
        sender.close()

    def result(self) -> Any:
        try:
            outcome = self._receiver.recv()
        except EOFError:
            code = self._process.exitcode
            outcome = RuntimeError(f"the forked computation died (exit code {code})")
        self._process.join()
        if isinstance(outcome, _Failure):
            raise outcome.error
        return outcome


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _run(sender, function: Callable[..., Any], args: tuple) -> None:
    """The child. The inherited connections belong to the parent's open transaction: they are
    set aside untouched (closing one would end the parent's session) and new ones are opened.
    The process ends with ``os._exit``, so nothing is finalised on them."""
    for wrapper in connections.all(initialized_only=True):
        _inherited.append(wrapper.connection)
        wrapper.connection = None
    try:
        sender.send(function(*args))
    except BaseException as error:  # the parent re-raises it
        sender.send(_Failure(error))
    finally:
        connections.close_all()
        sender.close()
