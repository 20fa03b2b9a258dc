"""Daemon worker threads for rules that may block.

concurrent.futures' pool joins its threads at interpreter exit, so one rule
stuck forever would keep the host (or the CLI) from exiting. These workers are
daemon threads: a rule past its deadline is abandoned, the request is denied,
and the process can still exit. Workers are started on demand up to a cap;
past the cap, calls queue, and a queued call past its deadline is denied too.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

__all__ = ["Workers"]


class Workers:
    def __init__(self, max_workers: int = 32) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], contextvars.Context, Callable[..., Any], tuple[Any, ...]]] \
            = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._max = max_workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, contextvars.copy_context(), fn, args))
        with self._lock:
            if self._idle == 0 and self._threads < self._max:
                self._threads += 1
                threading.Thread(target=self._work, name=f"authrules-rule-{self._threads}", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            future, context, fn, args = self._queue.get()
            with self._lock:
                self._idle -= 1
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(context.run(fn, *args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                future.set_exception(exc)
