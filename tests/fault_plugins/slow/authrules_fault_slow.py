"""Rule types that take too long, then would let the request through.

``fault-sleep`` declares ``blocking=True`` and sleeps on its worker thread;
``fault-hang`` never returns; ``fault-async-sleep`` awaits; ``fault-async-block``
is ``async def`` but blocks the event loop with ``time.sleep`` (a mistake the
core cannot interrupt, only refuse to trust); ``fault-sleep-inline`` is a pure
rule type that sleeps anyway, ``fault-retry-inline`` one that also swallows every
``Exception``; ``fault-async-stubborn`` swallows its own cancellation. Each returns ``None`` (pass) if it ever finishes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from authrules import Request, RuleType, current_decision_id, hookimpl

#: Decision ids whose rule finished after all, in the order they finished.
FINISHED: list[str | None] = []


@dataclass(frozen=True)
class Settings:
    seconds: float = 5.0


def sleep(request: Request, settings: Settings) -> None:
    time.sleep(settings.seconds)
    FINISHED.append(current_decision_id())


def hang(request: Request, settings: None) -> None:
    threading.Event().wait()


async def async_sleep(request: Request, settings: Settings) -> None:
    await asyncio.sleep(settings.seconds)
    FINISHED.append(current_decision_id())


async def async_block(request: Request, settings: Settings) -> None:
    time.sleep(settings.seconds)
    FINISHED.append(current_decision_id())


def sleep_inline(request: Request, settings: Settings) -> None:
    time.sleep(settings.seconds)


def retry_inline(request: Request, settings: Settings) -> None:
    """A pure rule that retries forever and swallows every Exception while it does."""
    deadline = time.monotonic() + settings.seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except Exception:  # noqa: BLE001 - the mistake this rule stands for
            continue


async def async_stubborn(request: Request, settings: Settings) -> None:
    """An async rule that swallows its cancellation and goes on waiting."""
    deadline = time.monotonic() + settings.seconds
    while time.monotonic() < deadline:
        try:
            await asyncio.sleep(settings.seconds)
        except asyncio.CancelledError:
            continue
    FINISHED.append(current_decision_id())


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [
        RuleType("fault-sleep", sleep, Settings, blocking=True, description="sleeps, then passes"),
        RuleType("fault-hang", hang, None, blocking=True, description="never returns"),
        RuleType("fault-async-sleep", async_sleep, Settings, description="awaits a sleep, then passes"),
        RuleType("fault-async-block", async_block, Settings, description="blocks the event loop, then passes"),
        RuleType("fault-sleep-inline", sleep_inline, Settings, description="pure rule type that sleeps"),
        RuleType("fault-retry-inline", retry_inline, Settings, description="pure, retries, swallows Exception"),
        RuleType("fault-async-stubborn", async_stubborn, Settings, description="swallows its cancellation"),
    ]
