"""Rule type ``audience-deny``: deny requests for given API audiences, and requests with none.

Requested audiences are every ``audience`` and RFC 8707 ``resource`` value.
They are compared with the configured ones by RFC 3986 equivalence and, for
http(s), ws(s) and ftp hosts, as the WHATWG URL parser reads them
(``authrules.audience_key``), so ``HTTP://TodoApi2.API/`` and
``http://todoapi2.%EF%BD%81pi`` are denied like ``http://todoapi2.api``. The deny
keys are computed once, when the config loads, with the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from authrules import Deny, Request, RuleType, audience_key, hookimpl
from authrules._uri import is_uri_text


@dataclass(frozen=True)
class Settings:
    audiences: tuple[str, ...] = ()
    deny_missing: bool = False
    error: str = "unauthorized"
    error_description: str = "end_users_not_allowed"
    status: int = 401
    keys: frozenset[str] = field(init=False, repr=False)
    deny: Deny = field(init=False, repr=False)

    def __post_init__(self) -> None:
        keys = set()
        for value in self.audiences:
            if not is_uri_text(value):
                raise ValueError(f"audience {value!r} holds characters a URI may not hold")
            try:
                keys.add(audience_key(value))
            except ValueError as exc:
                raise ValueError(f"audience {value!r} {exc}") from None
        if not self.audiences and not self.deny_missing:
            raise ValueError("set 'audiences', 'deny_missing = true', or both: this rule would deny nothing")
        object.__setattr__(self, "keys", frozenset(keys))
        object.__setattr__(self, "deny", Deny(self.error, self.error_description, self.status))


def audience_deny(request: Request, settings: Settings) -> Deny | None:
    if not request.audience_keys:
        return settings.deny if settings.deny_missing else None
    if settings.keys.isdisjoint(request.audience_keys):
        return None
    return settings.deny


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [RuleType("audience-deny", audience_deny, Settings,
                     description="deny requests for the given audiences, and (deny_missing) requests with none")]
