"""The answer the runner gives for one request."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Decision"]


class Decision(NamedTuple):
    """What the rules decided, and why: an immutable record.

    ``scopes`` are the scopes in force when the decision was made: on allow,
    what the request is granted (requested less what rules removed); on deny,
    the same as it stood when the deny came. ``requested_scopes`` are what the
    client asked for. ``rule`` and ``rule_type`` name the rule that denied; both
    are None on allow and on ``invalid_request`` (no rule ran).

    A ``NamedTuple`` rather than a frozen dataclass: one is built per request,
    and a tuple is built in a fifth of the time a frozen dataclass's
    ``__init__`` takes (docs/performance.md). ``_replace`` makes a changed copy.
    """

    outcome: str
    decision_id: str
    rule: str | None = None
    rule_type: str | None = None
    status: int = 200
    error: str | None = None
    error_description: str | None = None
    client_id: str | None = None
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    requested_scopes: tuple[str, ...] = ()
    endpoint: str | None = None
    grant_type: str | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the keys ``authrules eval`` prints."""
        return {
            "outcome": self.outcome,
            "rule": self.rule,
            "rule_type": self.rule_type,
            "status": self.status,
            "error": self.error,
            "error_description": self.error_description,
            "client_id": self.client_id,
            "audiences": list(self.audiences),
            "scopes": list(self.scopes),
            "decision_id": self.decision_id,
        }
