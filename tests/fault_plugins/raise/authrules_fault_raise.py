"""Rule types that raise, with the request's credentials in the exception text.

``kind`` picks what is raised. Every message quotes the password, client
secret, code, Authorization and Cookie headers and this rule's own secret
setting, raw and in repr form, and the username as sent (it may hold CR, LF or
ANSI escapes), so that a log that does not redact or escape shows it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from authrules import Request, RuleType, hookimpl, secret

Kind = Literal["error", "system-exit", "timeout-error", "generator-exit", "odd-name", "group",
               "keyboard-interrupt", "recursion", "cancelled"]


@dataclass(frozen=True)
class Upstream:
    url: str = "https://upstream.example"
    token: str = secret(default="")


@dataclass(frozen=True)
class Settings:
    kind: Kind = "error"
    api_key: str = secret(default="")
    upstream: Upstream | None = None


def _message(request: Request, settings: Settings) -> str:
    headers = {k: v for k, v in request.headers.items() if k in ("authorization", "cookie")}
    return (f"upstream refused password={request.param('password')} "
            f"client_secret={request.param('client_secret')} code={request.param('code')} "
            f"refresh_token={request.param('refresh_token')} user {request.param('username')} "
            f"api key {settings.api_key} upstream {settings.upstream!r} headers {headers!r} "
            f"params {dict(request.params)!r}")


def _odd_class() -> type[Exception]:
    return type("Odd\n\x1b[31mError\u2028", (Exception,), {})


def fault_raise(request: Request, settings: Settings) -> None:
    message = _message(request, settings)
    kind = settings.kind
    if kind == "system-exit":
        raise SystemExit(message)
    if kind == "timeout-error":
        raise TimeoutError(message)
    if kind == "generator-exit":
        raise GeneratorExit(message)
    if kind == "cancelled":
        raise asyncio.CancelledError(message)
    if kind == "keyboard-interrupt":
        raise KeyboardInterrupt(message)
    if kind == "odd-name":
        raise _odd_class()(message)
    if kind == "group":
        raise ExceptionGroup("several failures", [ValueError(message), KeyError(message)])
    if kind == "recursion":
        def down(n: int) -> int:
            return down(n + 1) + 1
        down(0)
    try:
        {}["missing"]
    except KeyError as exc:  # a chained exception: both parts are in the traceback
        raise RuntimeError(message) from exc


def fault_raise_blocking(request: Request, settings: Settings) -> None:
    fault_raise(request, settings)


async def fault_raise_async(request: Request, settings: Settings) -> None:
    fault_raise(request, settings)


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [
        RuleType("fault-raise", fault_raise, Settings, description="raises, quoting the request's secrets"),
        RuleType("fault-raise-blocking", fault_raise_blocking, Settings, blocking=True,
                 description="raises on a worker thread"),
        RuleType("fault-raise-async", fault_raise_async, Settings, description="async, raises"),
    ]
