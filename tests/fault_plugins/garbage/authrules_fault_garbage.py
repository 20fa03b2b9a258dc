"""Rule types that return what the rule contract does not allow.

The contract is ``None``, a ``Deny`` or a ``RemoveScopes``. ``returns`` picks a
value that looks like an answer but is not one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from authrules import Deny, RemoveScopes, Request, RuleType, hookimpl

Returns = Literal["true", "false", "zero", "empty", "allow", "dict", "deny-subclass", "deny-class",
                  "remove-subclass", "bad-repr", "secret-repr", "base-repr", "coroutine", "generator",
                  "huge-repr", "list-none", "forged-deny"]


@dataclass(frozen=True)
class Settings:
    returns: Returns = "true"


def _subclass(base: type) -> type:
    """Try to subclass a final result type at call time, skipping its checks."""
    return type("Lenient" + base.__name__, (base,), {"__post_init__": lambda self: None})


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class BaseRepr:
    def __repr__(self) -> str:
        raise SystemExit("a repr that exits")


class SecretRepr:
    def __init__(self, request: Request) -> None:
        self.request = request

    def __repr__(self) -> str:
        r = self.request
        return (f"<SecretRepr password={r.param('password')} secret={r.param('client_secret')} "
                f"code={r.param('code')} auth={r.headers.get('authorization')} "
                f"user={r.param('username')}\n\x1b[2J forged line>")


class HugeRepr:
    def __repr__(self) -> str:
        return "x" * 5_000_000


async def _allow() -> None:
    await asyncio.sleep(0)


def _generator() -> Any:
    yield None


def garbage(request: Request, settings: Settings) -> Any:
    kind = settings.returns
    if kind == "deny-subclass":
        return _subclass(Deny)("", "", 200)
    if kind == "remove-subclass":
        return _subclass(RemoveScopes)(["openid"])
    if kind == "forged-deny":  # no subclass: a Deny built around its checks
        forged = object.__new__(Deny)
        for name, value in (("error", ""), ("description", "ok\r\nSet-Cookie: x"), ("status", 200)):
            object.__setattr__(forged, name, value)
        return forged
    if kind == "secret-repr":
        return SecretRepr(request)
    if kind == "coroutine":
        return _allow()
    if kind == "generator":
        return _generator()
    return {
        "true": True, "false": False, "zero": 0, "empty": "", "allow": "allow",
        "dict": {"outcome": "allow", "status": 200}, "deny-class": Deny, "bad-repr": BadRepr(),
        "base-repr": BaseRepr(), "huge-repr": HugeRepr(), "list-none": [None],
    }[kind]


async def garbage_async(request: Request, settings: Settings) -> Any:
    return garbage(request, settings)


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [RuleType("fault-garbage", garbage, Settings, description="returns a value outside the contract"),
            RuleType("fault-garbage-async", garbage_async, Settings, description="async, returns garbage")]
