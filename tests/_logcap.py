"""A structlog logger that keeps every rendered line, for tests that read authrules' log events.

The chain is a *plain host chain*: level, then the renderer, and none of
authrules' own processors, so what it shows is what authrules itself emits.
``with_processors=True`` adds ``redact_secrets`` and ``escape_control_chars``
the way docs/security.md tells a host to.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import structlog

from authrules import escape_control_chars, redact_secrets


class Sink:
    """The wrapped logger: every method appends the rendered line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def _write(self, message: str) -> None:
        with self._lock:
            self.lines.append(message)

    msg = debug = info = warning = warn = error = critical = exception = log = _write

    @property
    def events(self) -> list[dict[str, Any]]:
        """The lines parsed as JSON (only for the json renderer)."""
        return [json.loads(line) for line in self.lines]

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def capture(fmt: str = "json", *, level: int = 10, with_processors: bool | str = False) -> tuple[Any, Sink]:
    sink = Sink()
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    processors: list[Any] = [structlog.processors.add_log_level]
    if with_processors == "redact-only":
        processors += [redact_secrets]
    elif with_processors:
        processors += [redact_secrets, escape_control_chars]
    logger = structlog.wrap_logger(sink, processors=[*processors, renderer],
                                   wrapper_class=structlog.make_filtering_bound_logger(level))
    return logger, sink
