"""What else a host pays per request, for reading the middleware numbers.

* ``parse``: ``Request.from_http`` on the raw bytes of the mix (what the
  middleware's ``Request.from_wsgi``/``from_asgi`` also do: resolve client,
  audiences and scopes, with every ambiguity check);
* ``log line``: one ``authrules.decision`` event through two processor chains,
  written to a file: ``json`` (the log column's: level, time stamp,
  JSONRenderer) and ``json+safety`` (the authrules CLI's and the example hosts':
  the same plus ``redact_secrets`` and ``escape_control_chars``).
"""

from __future__ import annotations

import logging

import pytest
import structlog

from authrules import Request, escape_control_chars, redact_secrets

from . import common
from .conftest import pedantic


def test_parse(benchmark, mix, sink):
    raws = [common.raw_request(name) for name in common.mix_names()]
    assert [Request.from_http(raw).audience_keys for raw in raws] == [r.audience_keys for r in mix]

    def round_(requests):
        for raw in raws:
            Request.from_http(raw)

    benchmark.group = "parts"
    pedantic(benchmark, sink, round_, mix, kind="parts", part="parse: Request.from_http")


CHAINS = {
    "json": lambda: [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                     structlog.processors.JSONRenderer()],
    "json+safety": lambda: [structlog.processors.add_log_level,
                            structlog.processors.TimeStamper(fmt="iso", utc=True),
                            redact_secrets, escape_control_chars, structlog.processors.JSONRenderer()],
}


@pytest.mark.parametrize("chain", list(CHAINS))
def test_log_line(benchmark, mix, sink, chain):
    structlog.reset_defaults()
    structlog.configure(processors=CHAINS[chain](), wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
                        logger_factory=structlog.WriteLoggerFactory(file=sink.file), cache_logger_on_first_use=True)
    log = structlog.get_logger("authrules").bind()

    def round_(requests):
        for request in requests:
            common.log_decision(log, "0123456789ab-1", 0, 1000, request, "allow", None, None, 200, None, None)

    benchmark.group = "parts"
    pedantic(benchmark, sink, round_, mix, kind="parts", part=f"one log line, chain {chain}")
    assert len(sink.lines()) == len(mix)
