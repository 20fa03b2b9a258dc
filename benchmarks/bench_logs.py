"""What the log-safety processors cost per line, for a few shapes of event.

    .venv/bin/python -m benchmarks.bench_logs [--repeat 7] [--profile SHAPE]

Each shape is logged through two structlog chains written to a real file, as in
``bench_parts.py``: ``json`` (level, ISO UTC time stamp, ``JSONRenderer``) and
``json+safety`` (the same plus ``redact_secrets`` and ``escape_control_chars``
before the renderer, the chain the CLI and the example hosts use). It prints
the median µs per line over ``--repeat`` runs and the ratio of the two chains.
Needs only the ``test`` extra (no pytest-benchmark); never run by ``make test``.

Shapes:

* ``decision``: authrules' own ``authrules.decision`` event for the 100 requests
  of the benchmark mix (``common.log_decision``, the keys ``_decide`` logs), each
  with its own decision id, allowed or denied by client as in the mix;
* ``parts``: the line ``bench_parts.py`` times: the same event, every request
  allowed, one fixed decision id;
* ``rule``: a per-rule DEBUG event (``authrules.rule``, five short keys);
* ``host``: a host's request event: method, path, status, a header list of
  byte pairs with an ``authorization`` header, a small WSGI-environ-like dict;
* ``error``: a rule failure with a ~2 kB traceback text and a settings repr.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import structlog

from authrules import escape_control_chars, redact_secrets

from . import common

CHAINS: dict[str, Callable[[], list[Any]]] = {
    "json": lambda: [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                     structlog.processors.JSONRenderer()],
    "json+safety": lambda: [structlog.processors.add_log_level,
                            structlog.processors.TimeStamper(fmt="iso", utc=True),
                            redact_secrets, escape_control_chars, structlog.processors.JSONRenderer()],
}

TRACEBACK = "".join(
    f'  File "/srv/app/plugins/upstream_{i}.py", line {40 + i}, in check\n'
    f"    response = session.post(url, data={{'client_id': client_id, 'scope': scope}}, timeout=2)\n"
    for i in range(12)) + "ConnectionError: upstream https://upstream.example/introspect refused the connection\n"


def _shapes(log: Any, mix: list[Any]) -> dict[str, Callable[[], int]]:
    """Each shape as a function that logs some lines and returns how many."""

    ids = [f"{i:012x}-1" for i in range(len(mix))]  # unique per line, as the runner's decision ids

    def decision() -> int:
        for did, request in zip(ids, mix):
            allow = request.client_id != "CLIENT_ID"
            common.log_decision(log, did, 0, 1000, request, "allow" if allow else "deny",
                                None if allow else "deny-client", None if allow else "client-deny",
                                200 if allow else 401, None if allow else "unauthorized",
                                None if allow else "end_users_not_allowed")
        return len(mix)

    def parts() -> int:  # exactly what bench_parts.py times ("one log line, chain ...")
        for request in mix:
            common.log_decision(log, "0123456789ab-1", 0, 1000, request, "allow", None, None, 200, None, None)
        return len(mix)

    def rule() -> int:
        for _ in range(100):
            log.info("authrules.rule", decision_id="0123456789ab-1", rule="deny-todo-api", rule_type="audience-deny",
                     result="pass", duration_us=3)
        return 100

    def host() -> int:
        for i in range(100):
            log.info("host.request", method="POST", path="/oauth/token", status=401, duration_ms=1.25, request_id=i,
                     headers=[(b"host", b"as.example.com"), (b"content-type", b"application/x-www-form-urlencoded"),
                              (b"authorization", b"Basic Y2xpZW50OnNlY3JldA=="), (b"user-agent", b"curl/8.5.0")],
                     environ={"REQUEST_METHOD": "POST", "PATH_INFO": "/oauth/token", "QUERY_STRING": "",
                              "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.7"})
        return 100

    def error() -> int:
        for _ in range(100):
            log.warning("authrules.rule", decision_id="0123456789ab-1", rule="upstream-check", rule_type="upstream",
                        result="error", exception_type="ConnectionError", traceback=TRACEBACK,
                        settings="Settings(url='https://upstream.example/introspect', timeout=2.0)", duration_us=812)
        return 100

    return {"decision": decision, "parts": parts, "rule": rule, "host": host, "error": error}


def _logger(chain: str, file: Any) -> Any:
    structlog.reset_defaults()
    structlog.configure(processors=CHAINS[chain](), wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
                        logger_factory=structlog.WriteLoggerFactory(file=file), cache_logger_on_first_use=True)
    return structlog.get_logger("authrules").bind()


def per_line_us(run: Callable[[], int], file: Any, seconds: float = 0.3) -> float:
    """µs per line for one run of ``run`` repeated for about ``seconds`` (file emptied between runs)."""
    for _ in range(3):
        run()
    lines, spent = 0, 0.0
    while spent < seconds:
        file.seek(0)
        file.truncate()
        start = time.perf_counter()
        lines += run()
        spent += time.perf_counter() - start
    return spent / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.3, help="timed seconds per run")
    parser.add_argument("--profile", metavar="SHAPE", help="cProfile the json+safety chain for one shape")
    parser.add_argument("--shapes", nargs="*", help="only these shapes")
    args = parser.parse_args()
    mix = common.build_mix()
    with tempfile.TemporaryDirectory() as folder:
        with open(Path(folder) / "lines.jsonl", "w", encoding="utf-8") as file:
            if args.profile:
                run = _shapes(_logger("json+safety", file), mix)[args.profile]
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(200):
                    file.seek(0)
                    file.truncate()
                    run()
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(18)
                return
            names = args.shapes or list(_shapes(None, mix))
            print(f"{'shape':<10} {'json µs':>9} {'safety µs':>10} {'ratio':>6}   (median of {args.repeat})")
            for name in names:
                times: dict[str, list[float]] = {chain: [] for chain in CHAINS}
                for _ in range(args.repeat):
                    for chain in CHAINS:  # interleaved, so load changes hit both chains alike
                        times[chain].append(per_line_us(_shapes(_logger(chain, file), mix)[name], file,
                                                        args.seconds))
                plain, safe = (statistics.median(times[chain]) for chain in CHAINS)
                print(f"{name:<10} {plain:>9.2f} {safe:>10.2f} {safe / plain:>6.2f}")
    structlog.reset_defaults()


if __name__ == "__main__":
    main()
