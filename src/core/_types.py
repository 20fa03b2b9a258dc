"""What a plugin contributes (``RuleType``) and what a rule returns (``Deny``, ``RemoveScopes``).

A rule is ``rule(request, settings) -> None | Deny | RemoveScopes``: ``None``
lets the request go on, ``Deny`` ends it, ``RemoveScopes`` narrows what it
grants. Anything else is a broken rule, and the request is denied. Both result
types are final and validated when built, so a rule that builds a bad one
raises, and a rule that raises is a deny too.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, final

__all__ = ["RuleType", "Deny", "RemoveScopes", "secret"]

_RULE_TYPE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ERROR_TEXT = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")  # RFC 6749 5.2 NQSCHAR
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def secret(**kwargs: Any) -> Any:
    """A settings field whose value is a secret: masked by ``authrules check`` and in logs."""
    metadata = dict(kwargs.pop("metadata", None) or {}, secret=True)
    return dataclasses.field(metadata=metadata, **kwargs)


@final
@dataclass(frozen=True, slots=True)
class Deny:
    """End the request with an OAuth error.

    ``error`` and ``description`` are sent to the client, so they must be RFC
    6749 section 5.2 text (printable ASCII without ``"`` or ``\\``); ``status``
    is the HTTP status the host answers with (400 to 599).
    """

    error: str = "access_denied"
    description: str = ""
    status: int = 403

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("Deny is final: a rule returns Deny itself, which the runner checks by exact type")

    def __post_init__(self) -> None:
        if not isinstance(self.error, str) or not self.error or not _ERROR_TEXT.fullmatch(self.error):
            raise ValueError("Deny.error must be non-empty RFC 6749 error text")
        if not isinstance(self.description, str) or not _ERROR_TEXT.fullmatch(self.description):
            raise ValueError("Deny.description must be RFC 6749 error text")
        if type(self.status) is not int or not 400 <= self.status <= 599:
            raise ValueError("Deny.status must be an int from 400 to 599")


@final
@dataclass(frozen=True, slots=True, init=False)
class RemoveScopes:
    """Narrow the grant: drop these scopes from what the request is granted."""

    scopes: frozenset[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("RemoveScopes is final: a rule returns RemoveScopes itself")

    def __init__(self, scopes: Iterable[str]) -> None:
        if isinstance(scopes, str):
            raise TypeError("RemoveScopes takes an iterable of scope strings, not one string")
        frozen = frozenset(scopes)
        if not all(isinstance(s, str) and _SCOPE.fullmatch(s) for s in frozen):
            raise ValueError("RemoveScopes takes scope tokens (RFC 6749 3.3)")
        object.__setattr__(self, "scopes", frozen)


@dataclass(frozen=True, slots=True)
class RuleType:
    """A kind of rule a plugin offers, used by name from rules.toml.

    ``rule`` is called as ``rule(request, settings)`` for every request the
    rule sees. ``settings`` is a dataclass: rules.toml's ``[rules.settings]`` is
    checked against its fields and types when the config loads, and the rule
    gets the instance (do costly preparation in ``__post_init__``, once).
    ``blocking=True`` (or an ``async def`` rule) says the rule may wait on I/O;
    such rules run under a deadline. Pure rules run inline.
    """

    name: str
    rule: Callable[..., Any]
    settings: type | None = None
    description: str = ""
    blocking: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _RULE_TYPE_NAME.fullmatch(self.name):
            raise ValueError(f"rule type name {self.name!r} must match {_RULE_TYPE_NAME.pattern}")
        if not callable(self.rule):
            raise TypeError(f"rule type {self.name!r}: rule must be callable")
        if self.settings is not None and not (isinstance(self.settings, type)
                                              and dataclasses.is_dataclass(self.settings)):
            raise TypeError(f"rule type {self.name!r}: settings must be a dataclass type or None")

    @property
    def is_async(self) -> bool:
        """True when the rule is ``async def`` and needs ``evaluate_async``."""
        return inspect.iscoroutinefunction(self.rule)
