"""Capture structlog events from one runner without configuring structlog globally."""

from __future__ import annotations

import json
from typing import Any

import structlog

DEBUG = 10


class Captured(list):  # type: ignore[type-arg]
    """The events one logger received, in order, each a dict with ``event`` and ``level``."""

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self if e["event"] == event]

    def rule_order(self) -> list[str]:
        """Names of the rules in the order their ``authrules.rule`` events came."""
        return [e["rule"] for e in self.named("authrules.rule")]

    def rendered(self) -> str:
        """Every event rendered as JSON lines and as console lines, as hosts would print them."""
        console = structlog.dev.ConsoleRenderer(colors=False)
        lines = []
        for event in self:
            lines.append(json.dumps(event, default=repr))
            lines.append(console(None, event["level"], dict(event)))
        return "\n".join(lines)


def capturing_logger(level: int = DEBUG) -> tuple[Any, Captured]:
    """A structlog logger of its own (no global configuration) and the list its events land in."""
    events = Captured()

    def capture(_logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
        events.append({**event_dict, "level": method})
        raise structlog.DropEvent

    logger = structlog.wrap_logger(structlog.ReturnLogger(), processors=[capture],
                                   wrapper_class=structlog.make_filtering_bound_logger(level))
    return logger, events
