"""Rule type ``scope-limit``: narrow the scopes a request is granted, never deny.

A rule of this type returns ``RemoveScopes``: the request goes on to the next
rule, and what it is finally granted is what it asked for less what was removed.

```toml
[[rules]]
name = "no-admin-for-partners"
type = "scope-limit"
[rules.settings]
remove = ["admin"]                 # never grant these
allowed = ["openid", "profile"]    # optional: grant nothing outside this set
clients = ["partner-app"]          # optional: only for these clients (default: every client)
```
"""

from __future__ import annotations

from dataclasses import dataclass

from authrules import RemoveScopes, Request, RuleType, hookimpl


@dataclass(frozen=True)
class Settings:
    remove: frozenset[str] = frozenset()
    allowed: frozenset[str] | None = None
    clients: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.remove and self.allowed is None:
            raise ValueError("set 'remove', 'allowed', or both: this rule would narrow nothing")


def scope_limit(request: Request, settings: Settings) -> RemoveScopes | None:
    if settings.clients is not None and request.client_id not in settings.clients:
        return None
    dropped = settings.remove.intersection(request.scopes)
    if settings.allowed is not None:
        dropped |= {s for s in request.scopes if s not in settings.allowed}
    return RemoveScopes(dropped) if dropped else None


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [RuleType("scope-limit", scope_limit, Settings,
                     description="remove scopes from what a request is granted (optionally for some clients)")]
