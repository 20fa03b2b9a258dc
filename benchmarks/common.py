"""What every benchmark shares: the request mix, the two logging set-ups, the engines' log line.

The mix is built from the real example requests in ``examples/requests/`` with
``Request.from_http``, once, before anything is timed: 80 allowed, 10 denied by
audience, 10 denied by client, in a fixed shuffled order. Each entry is its own
``Request`` object (parsed separately), so no engine can profit from identity.

Logging is structlog, configured globally the way a host would, in one of two
columns:

* ``decisions``: ``make_filtering_bound_logger(WARNING)``, so every INFO and
  DEBUG call is a no-op; ``cache_logger_on_first_use=True``.
* ``log``: structlog's production chain (level, ISO UTC time stamp,
  ``JSONRenderer``) at INFO, written by ``WriteLoggerFactory`` to a real file.
  authrules' per-rule events are DEBUG (filtered); its decision event is INFO,
  so one JSON line per decision. Every other engine writes the same event with
  the same keys. What the CLI's safety processors (``redact_secrets``,
  ``escape_control_chars``) add to a line is timed on its own in
  ``bench_parts.py`` and ``bench_logs.py``.

structlog's configuration is global and a logger caches its configuration on
first use, so each engine must be built *after* ``configure_logging``.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import IO, Any

import structlog

from authrules import Request, escape_control_chars, redact_secrets

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = ROOT / "examples" / "requests"
RULES = ROOT / "rules.toml"
COLUMNS = ("decisions", "log")

# Which example requests go into which part of the mix (all valid requests).
ALLOWED = ("control-allowed-client-credentials", "password-grant-secrets", "ro-authorize-audience-billing",
           "ro-token-password-audience-billing-body")
DENIED_BY_AUDIENCE = ("ro-authorize-audience-todoapi2", "ro-authorize-no-audience", "ro-token-code-basic-no-audience",
                      "ro-token-password-audience-todoapi2-body", "hx-token-json-client-credentials-audience-todoapi2",
                      "json-audience-array", "audience-case-trailing-slash")
DENIED_BY_CLIENT = ("al-authorize-pkce-CLIENT_ID-audience-billing", "al-token-code-CLIENT_ID-post-audience-billing",
                    "ro-token-client-credentials-CLIENT_ID-basic-audience-billing")
MIX_SHAPE = {"allowed": 80, "denied_by_audience": 10, "denied_by_client": 10}


def raw_request(name: str) -> bytes:
    return (REQUESTS / f"{name}.http").read_bytes()


def mix_names(seed: int = 5) -> list[str]:
    """The 100 request names of the mix, in a fixed shuffled order."""
    names: list[str] = []
    for group, count in ((ALLOWED, MIX_SHAPE["allowed"]), (DENIED_BY_AUDIENCE, MIX_SHAPE["denied_by_audience"]),
                         (DENIED_BY_CLIENT, MIX_SHAPE["denied_by_client"])):
        names.extend(group[i % len(group)] for i in range(count))
    random.Random(seed).shuffle(names)
    return names


def build_mix(seed: int = 5) -> list[Request]:
    """Each entry parsed on its own from raw bytes; a malformed one is a bug in the mix."""
    mix = []
    for name in mix_names(seed):
        request = Request.from_http(raw_request(name))
        if request.problem is not None:
            raise SystemExit(f"benchmark mix: {name} is malformed ({request.problem}); fix the mix")
        mix.append(request)
    return mix


def expected_group(name: str) -> str:
    if name in ALLOWED:
        return "allowed"
    return "denied_by_audience" if name in DENIED_BY_AUDIENCE else "denied_by_client"


class LogSink:
    """The file the ``log`` column writes to, emptied between rounds so it stays small."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - lives for the run

    def reset(self) -> None:
        self.file.flush()
        self.file.seek(0)
        self.file.truncate()

    def lines(self) -> list[str]:
        self.file.flush()
        return self.path.read_text(encoding="utf-8").splitlines()

    def close(self) -> None:
        self.file.close()


def configure_logging(column: str, sink: LogSink) -> None:
    """Configure structlog globally for one column (see the module docstring)."""
    if column not in COLUMNS:
        raise ValueError(column)
    level = logging.WARNING if column == "decisions" else logging.INFO
    structlog.reset_defaults()
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=sink.file),
        cache_logger_on_first_use=True,
    )


def log_decision(log: Any, did: str, start: int, now: int, request: Request, outcome: str, rule: str | None,
                 rule_type: str | None, status: int, error: str | None, description: str | None) -> None:
    """The decision event, with the keys authrules' own ``authrules.decision`` event has.

    Used by every engine other than authrules, so each pays for the same log line.
    """
    log.info("authrules.decision", decision_id=did, outcome=outcome, rule=rule, rule_type=rule_type,
             status=status, error=error, error_description=description, client_id=request.client_id,
             audiences=request.audiences, scopes_requested=request.scopes,
             scopes_granted=request.scopes if outcome == "allow" else (), endpoint=request.endpoint,
             grant_type=request.grant_type, duration_us=(now - start) // 1000)
