"""Daemon worker threads for rules that may block.

concurrent.futures' pool joins its threads at interpreter exit, so one rule
stuck forever would keep the host (or the CLI) from exiting. These workers are
daemon threads: a rule past its deadline is abandoned, the request is denied,
and the process can still exit.

Each call is handed to exactly one worker: an idle one if there is one (it is
reserved at once, so two calls never wait on the same idle worker), else a new
one up to ``max_workers``. Past that, calls wait in a backlog of at most
``max_queue``; a call past its deadline is denied by its caller, and a call
that finds the backlog full fails at once with ``TimeoutError``. So rules that
hang forever cost at most ``max_workers`` threads and a bounded backlog, and
every later request is still answered (denied) at once.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

__all__ = ["Workers", "Overloaded"]


class Overloaded(TimeoutError):
    """Every worker is busy and the backlog is full: the call is refused at once."""


class Workers:
    #: What ``submit``'s future raises when the backlog is full (here too, so callers need not import this module).
    Overloaded = Overloaded

    def __init__(self, max_workers: int = 32, max_queue: int = 1024) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], contextvars.Context, Callable[..., Any], tuple[Any, ...]]] \
            = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0      # workers waiting for a call that no submitted call has reserved yet
        self._backlog = 0   # calls submitted while no worker was free
        self._max = max_workers
        self._max_queue = max_queue

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            elif self._threads < self._max:
                self._threads += 1
                threading.Thread(target=self._work, name=f"authrules-rule-{self._threads}", daemon=True).start()
            elif self._backlog < self._max_queue:
                self._backlog += 1
            else:
                future.set_exception(Overloaded("every rule worker is busy and the backlog is full"))
                return future
            self._queue.put((future, contextvars.copy_context(), fn, args))
        return future

    def _work(self) -> None:
        while True:
            future, context, fn, args = self._queue.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(context.run(fn, *args))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                    future.set_exception(exc)
            with self._lock:
                if self._backlog > 0:
                    self._backlog -= 1  # this worker takes the oldest waiting call next
                else:
                    self._idle += 1
