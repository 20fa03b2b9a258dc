"""Memory after one million decisions, in a fresh process.

``Runner.evaluate`` runs over the request mix until it has made ``--decisions``
decisions, after a warm-up of 10,000. Growth is measured two ways, each in its
own process (tracemalloc slows Python down and changes RSS):

* ``rss``: the process's resident set (``VmRSS``) after the warm-up and at the
  end, after ``gc.collect()``;
* ``tracemalloc``: bytes traced as allocated by Python after the warm-up and at
  the end, and the largest allocation sites still alive.

``--column log`` writes one JSON line per decision to ``/dev/null``.
Run: ``python -m benchmarks.memory --mode rss --decisions 1000000`` prints JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from pathlib import Path

from . import common
from .engines import Authrules

WARMUP = 10_000


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def run(mode: str, decisions: int, column: str) -> dict[str, object]:
    sink = common.LogSink(Path("/dev/null"))
    common.configure_logging(column, sink)
    mix = common.build_mix()
    evaluate = Authrules().runner.evaluate
    size = len(mix)

    def decide(count: int) -> None:
        full, rest = divmod(count, size)
        for _ in range(full):
            for request in mix:
                evaluate(request)
        for request in mix[:rest]:
            evaluate(request)

    decide(WARMUP)
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start(1)
        gc.collect()
        before = tracemalloc.take_snapshot()
        traced_before = tracemalloc.get_traced_memory()[0]
    rss_before = rss_bytes()
    start = time.perf_counter()
    decide(decisions)
    elapsed = time.perf_counter() - start
    gc.collect()
    rss_after = rss_bytes()
    result: dict[str, object] = {"mode": mode, "column": column, "decisions": decisions, "warmup": WARMUP,
                                 "seconds": elapsed, "rss_before_bytes": rss_before, "rss_after_bytes": rss_after,
                                 "rss_growth_bytes": rss_after - rss_before}
    if mode == "tracemalloc":
        traced_after = tracemalloc.get_traced_memory()[0]
        after = tracemalloc.take_snapshot()
        top = after.compare_to(before, "lineno")[:5]
        result.update(traced_growth_bytes=traced_after - traced_before,
                      top_growth=[{"where": str(stat.traceback[0]), "size_diff_bytes": stat.size_diff,
                                   "count_diff": stat.count_diff} for stat in top])
        tracemalloc.stop()
    sink.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("rss", "tracemalloc"), default="rss")
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--column", choices=common.COLUMNS, default="decisions")
    args = parser.parse_args()
    print(json.dumps(run(args.mode, args.decisions, args.column)))


if __name__ == "__main__":
    main()
