"""Fixtures for the pytest-benchmark suite (run by ``make bench`` / ``benchmarks/run.py``, never by ``make test``).

Before anything is timed, the session checks that every engine decides every
request of the mix (and every valid example request) exactly as authrules does,
in both logging columns, and that the ``log`` column writes one JSON line per
decision for every engine.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from authrules import Request

from . import common, engines

#: Seconds of timed rounds per benchmark (BENCH_SECONDS=0.05 makes a quick smoke run).
SECONDS = float(os.environ.get("BENCH_SECONDS", "1.5"))


@pytest.fixture(scope="session")
def mix() -> list[Request]:
    return common.build_mix()


@pytest.fixture(scope="session")
def sink(tmp_path_factory: pytest.TempPathFactory) -> common.LogSink:
    sink = common.LogSink(tmp_path_factory.mktemp("bench-log") / "decisions.jsonl")
    yield sink
    sink.close()


def _example_requests() -> list[Request]:
    out = []
    for path in sorted(common.REQUESTS.glob("*.http")):
        request = Request.from_http(path.read_bytes())
        if request.problem is None:
            out.append(request)
    return out


@pytest.fixture(scope="session", autouse=True)
def checked(mix: list[Request], sink: common.LogSink) -> dict[str, Any]:
    """Decisions equal to authrules' before any timing; one JSON line per decision in the log column."""
    report: dict[str, Any] = {"requests": len(mix) + len(_example_requests()), "comparisons": 0}
    for column in common.COLUMNS:
        common.configure_logging(column, sink)
        built = [engines.build(name) for name in engines.NAMES]
        report["comparisons"] += engines.check_equal(built, mix + _example_requests())
        for engine in built:
            sink.reset()
            engine.round(mix)
            lines = sink.lines()
            want = len(mix) if column == "log" else 0
            if len(lines) != want:
                raise AssertionError(f"{engine.name}, column {column}: {len(lines)} log lines for {len(mix)} "
                                     f"decisions, expected {want}")
            for line in lines:
                event = json.loads(line)
                if event.get("event") != "authrules.decision" or event.get("level") != "info":
                    raise AssertionError(f"{engine.name}: unexpected log line {line[:200]}")
    sink.reset()
    if os.environ.get("BENCH_CHECKED_JSON"):
        Path(os.environ["BENCH_CHECKED_JSON"]).write_text(json.dumps(report))
    return report


def calibrate(run: Callable[[], None], seconds: float = SECONDS) -> tuple[int, int]:
    """(rounds, warm-up rounds) so that the timed part takes about ``seconds``."""
    for _ in range(3):
        run()
    start = time.perf_counter()
    for _ in range(5):
        run()
    per_round = (time.perf_counter() - start) / 5
    rounds = max(20, min(50_000, int(seconds / per_round)))
    return rounds, max(5, rounds // 10)


def pedantic(benchmark: Any, sink: common.LogSink, round_: Callable[[list[Request]], None],
             mix: list[Request], **info: Any) -> None:
    """Time ``round_(mix)``: one pass over the mix per round, the log file emptied before each round."""
    rounds, warmup = calibrate(lambda: round_(mix))
    benchmark.extra_info.update(decisions_per_round=len(mix), **info)
    if info.get("column") == "decisions":  # nothing is written: no file to empty between rounds (a syscall
        sink.reset()                       # between rounds would only cool the caches the round runs in)
        benchmark.pedantic(round_, args=(mix,), rounds=rounds, warmup_rounds=warmup)
        return

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        sink.reset()
        return (mix,), {}

    benchmark.pedantic(round_, setup=setup, rounds=rounds, warmup_rounds=warmup)
