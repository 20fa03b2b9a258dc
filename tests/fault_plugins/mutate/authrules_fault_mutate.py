"""A rule type that tries to change what later rules see, and one that records it.

``fault-mutate`` tries one way (``how``) to change the resolved request so a
later client or audience rule would pass; the request is immutable, so each
attempt raises. ``fault-record`` keeps what it saw, for the test to compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from authrules import Request, RuleType, hookimpl

How = Literal["setattr", "delattr", "params", "query", "body", "headers", "audiences", "scopes",
              "audience-keys", "user", "context", "secrets"]

SEEN: list[tuple[str | None, tuple[str, ...], tuple[str, ...]]] = []


@dataclass(frozen=True)
class Settings:
    how: How = "setattr"


def mutate(request: Request, settings: Settings) -> None:
    how = settings.how
    if how == "setattr":
        request.client_id = "someone-else"  # type: ignore[misc]
    elif how == "delattr":
        del request.audiences  # type: ignore[misc]
    elif how in ("params", "query", "body"):
        getattr(request, how)["audience"] = ("https://billing.example.com/api",)  # type: ignore[index]
    elif how == "headers":
        request.headers["authorization"] = ("Basic b3RoZXI6c2VjcmV0",)  # type: ignore[index]
    elif how == "audiences":
        request.audiences.clear()  # type: ignore[attr-defined]
    elif how == "scopes":
        request.scopes.append("admin")  # type: ignore[attr-defined]
    elif how == "audience-keys":
        request.audience_keys.clear()  # type: ignore[attr-defined]
    elif how == "user":
        user: Any = request.user
        user["roles"] = ("admin",)
    elif how == "context":
        request.context["bound_audience"] = "x"  # type: ignore[index]
    elif how == "secrets":
        request.secrets.clear()  # type: ignore[attr-defined]


def record(request: Request, settings: None) -> None:
    SEEN.append((request.client_id, request.audiences, request.scopes))


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [RuleType("fault-mutate", mutate, Settings, description="tries to change the request"),
            RuleType("fault-record", record, None, description="records what it saw")]
