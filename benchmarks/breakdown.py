"""Where a decision's time goes: a profile of ``Runner.evaluate`` and the cost of each of its parts.

Two views, both in the decisions-only set-up (logging filtered out), on the mix:

* ``profile``: cProfile of ``Runner.evaluate`` over the mix, the functions with
  the most own time (profiling inflates small calls; read it for shares);
* ``parts``: each thing ``evaluate`` does that the inline engine does not, or
  does more cheaply, timed alone with ``timeit`` (best of 7 repeats): what the
  gap between authrules and inline is made of.

Run: ``python -m benchmarks.breakdown`` prints JSON.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import timeit
from contextvars import ContextVar
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Callable

import structlog

from authrules import Decision
from authrules import _runner

from . import common
from .engines import Authrules, Inline


def _best(fn: Callable[[], Any], number: int = 100_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e9


def parts() -> dict[str, float]:
    log = structlog.get_logger("authrules")
    bound = log.bind()
    var: ContextVar[str | None] = ContextVar("x", default=None)
    values = ("allow", "abc-1", None, None, 200, None, None, "client", ("https://a",), ("openid",), ("openid",),
              "token", "client_credentials")
    new = _runner._new

    def rule(request: Any, settings: Any) -> None:
        return None

    kw = dict(decision_id=1, outcome=2, rule=3, rule_type=4, status=5, error=6, error_description=7, client_id=8,
              audiences=9, scopes_requested=10, scopes_granted=11, endpoint=12, grant_type=13, duration_us=14)
    ids = iter(range(10**9))
    return {
        "Decision(...) constructor (NamedTuple, 13 fields)": _best(lambda: Decision(*values)),
        "tuple.__new__(Decision, values) as evaluate builds it": _best(lambda: new(Decision, values)),
        "a 13-item tuple, as inline returns": _best(lambda: (*values,)),
        "log.info(event, 14 keys), filtered out": _best(lambda: bound.info("authrules.decision", **kw)),
        "proxy.bind() + is_enabled_for(INFO)": _best(lambda: log.bind().is_enabled_for(20)),
        "ContextVar set + reset": _best(lambda: var.reset(var.set("abc-1"))),
        "decision id f-string": _best(lambda: f"{'0123456789ab'}-{next(ids):x}"),
        "perf_counter_ns()": _best(perf_counter_ns),
        "a rule call returning None": _best(lambda: rule(None, None)),
        "empty lambda call (timing floor)": _best(lambda: None),
    }


def profile(top: int = 12) -> list[dict[str, Any]]:
    mix = common.build_mix()
    evaluate = Authrules().runner.evaluate

    def run() -> None:
        for _ in range(300):
            for request in mix:
                evaluate(request)

    run()
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_cc, calls, tottime, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(filename).name}:{line}({name})", "calls": calls,
                     "own_time_share": tottime / total})
    rows.sort(key=lambda r: -r["own_time_share"])
    return rows[:top]


def main() -> None:
    sink = common.LogSink(Path("/dev/null"))
    common.configure_logging("decisions", sink)
    mix = common.build_mix()
    inline, authrules = Inline(), Authrules()
    per = {}
    for name, engine in (("inline", inline), ("authrules", authrules)):
        per[name] = min(timeit.repeat(lambda: engine.round(mix), number=200, repeat=7)) / 200 / len(mix) * 1e9
    print(json.dumps({"per_decision_ns": per, "parts_ns": parts(), "profile": profile()}, indent=2))


if __name__ == "__main__":
    main()
