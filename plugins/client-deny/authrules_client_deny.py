"""Rule type ``client-deny``: deny requests from given client ids.

The client id is the one the core resolved from the query, the body or the
``Authorization: Basic`` header (where they disagree, the request never gets
here: it is ``invalid_request``). Client ids are compared exactly, as
RFC 6749 treats them as case-sensitive strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from authrules import Deny, Request, RuleType, hookimpl


@dataclass(frozen=True)
class Settings:
    clients: frozenset[str] = frozenset()
    deny_missing: bool = False
    error: str = "unauthorized"
    error_description: str = "end_users_not_allowed"
    status: int = 401
    deny: Deny = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.clients and not self.deny_missing:
            raise ValueError("set 'clients', 'deny_missing = true', or both: this rule would deny nothing")
        object.__setattr__(self, "deny", Deny(self.error, self.error_description, self.status))


def client_deny(request: Request, settings: Settings) -> Deny | None:
    client_id = request.client_id
    if client_id is None:
        return settings.deny if settings.deny_missing else None
    return settings.deny if client_id in settings.clients else None


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [RuleType("client-deny", client_deny, Settings,
                     description="deny requests from the given client ids (and, with deny_missing, with none)")]
