"""Size limits on requests, with defaults that rules.toml's ``[limits]`` can change."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Limits", "DEFAULT_LIMITS", "MAX_LIMIT"]

#: The largest value a limit may take (2 GiB less one byte, for a body size): past what reads and buffers
#: take, and 2**63 once overflowed in every request.
MAX_LIMIT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep request parsing linear and cheap.

    Past ``max_body_bytes`` a request is answered 413; past any other limit, 400
    ``invalid_request``. ``rule_timeout_ms`` is the deadline for rules that may
    block (see ``RuleType.blocking``) when their rule sets no ``timeout_ms``.
    """

    max_body_bytes: int = 64 * 1024
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_params: int = 256
    max_value_length: int = 16 * 1024
    max_json_depth: int = 8
    rule_timeout_ms: int = 1000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or not 1 <= value <= MAX_LIMIT:
                raise ValueError(f"{f.name} must be an integer from 1 to {MAX_LIMIT}")


#: The one default instance: a request parsed with it needs no re-check by a default runner.
DEFAULT_LIMITS = Limits()
