"""``make bench``: run every benchmark, write benchmarks/results.json, the docs tables and plots.

One process runs the pytest-benchmark suite (``bench_decisions.py``,
``bench_rules.py``): every engine, both logging columns and the rule-count
series, one after the other on the same machine state, so the ratios come from
one run. Cold start, memory and the example hosts need processes of their own
and run afterwards. Then this writes:

* ``benchmarks/results.json``: every number, with machine and versions;
* the tables between the ``results`` markers in ``docs/performance.md``;
* ``docs/performance-rules.png`` and ``docs/performance-decisions.png``.

Options: ``--quick`` (short rounds, few runs: a smoke test of the harness, whose
numbers are not worth keeping, so it writes to a temporary folder instead),
``--skip-hosts``, ``--skip-memory``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from . import engines
from .common import MIX_SHAPE, ROOT

RESULTS = ROOT / "benchmarks" / "results.json"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- results:begin (written by make bench) -->", "<!-- results:end -->"
PEER_DECISIONS_GOAL, PEER_LOG_GOAL = 20.0, 3.0


# -- machine and versions ----------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory, "os": platform.platform(),
            "python": f"{platform.python_implementation()} {platform.python_version()}"}


def versions() -> dict[str, str]:
    out = {}
    for dist in ("authrules", "structlog", "pluggy", "tomli", "pycasbin", "cedarpy", "pytest-benchmark", "pytest",
                 "matplotlib", "flask", "waitress", "starlette", "uvicorn"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


# -- the pytest-benchmark part -----------------------------------------------------------------

def run_pytest(out: Path, quick: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    import pytest

    if quick:
        os.environ["BENCH_SECONDS"] = "0.05"
    checked = out.with_name("checked.json")
    os.environ["BENCH_CHECKED_JSON"] = str(checked)
    code = pytest.main([str(ROOT / "benchmarks"), "-q", "-p", "no:cacheprovider", "-o", "python_files=bench_*.py",
                        "-o", "addopts=", f"--benchmark-json={out}", "--benchmark-sort=name",
                        "--benchmark-columns=median,iqr,min,rounds"])
    if code != 0:
        raise SystemExit(f"the benchmark suite failed (pytest exit {code}); no results written")
    return json.loads(out.read_text()), json.loads(checked.read_text())


def _per_decision(bench: dict[str, Any]) -> dict[str, Any]:
    stats, info = bench["stats"], bench["extra_info"]
    n = info["decisions_per_round"]
    return {"median_ns": stats["median"] / n * 1e9, "q1_ns": stats["q1"] / n * 1e9, "q3_ns": stats["q3"] / n * 1e9,
            "iqr_ns": stats["iqr"] / n * 1e9, "min_ns": stats["min"] / n * 1e9,
            "stddev_ns": stats["stddev"] / n * 1e9, "rounds": stats["rounds"], "decisions_per_round": n}


def decisions_table(data: dict[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = {"decisions": {}, "log": {}}
    rules: dict[str, Any] = {"authrules": {}, "floor": {}}
    parts: dict[str, Any] = {}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        if info["kind"] == "decisions":
            table[info["column"]][info["engine"]] = {**_per_decision(bench), "tuning": info["tuning"],
                                                     "library": info["library"]}
        elif info["kind"] == "rules":
            rules[info["engine"]][str(info["rules"])] = _per_decision(bench)
        elif info["kind"] == "parts":
            parts[info["part"]] = _per_decision(bench)
    return {"columns": table, "rules": rules, "parts": parts}


def ratios(columns: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, rows in columns.items():
        base = rows["authrules"]["median_ns"]
        out[column] = {
            "authrules_vs_inline": base / rows["inline"]["median_ns"],
            **{f"{peer}_vs_authrules": rows[peer]["median_ns"] / base for peer in engines.PEERS},
        }
    return out


def scaling(rules: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for engine, series in rules.items():
        points = sorted((int(k), v["median_ns"]) for k, v in series.items())
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mean_x) ** 2 for x in xs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
        intercept = mean_y - slope * mean_x
        ss_tot = sum((y - mean_y) ** 2 for y in ys)
        ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in points)
        marginal = {f"{a}->{b}": (yb - ya) / (b - a) for (a, ya), (b, yb) in zip(points, points[1:])}
        out[engine] = {"slope_ns_per_rule": slope, "intercept_ns": intercept,
                       "r_squared": 1 - ss_res / ss_tot if ss_tot else 1.0,
                       "ns_per_rule_at_1000": series["1000"]["median_ns"] / 1000 if "1000" in series else None,
                       "marginal_ns_per_rule": marginal}
    return out


# -- the parts that need their own processes -------------------------------------------------------

def run_module(module: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def memory(quick: bool) -> dict[str, Any]:
    n = "20000" if quick else "1000000"
    return {
        "rss": run_module("benchmarks.memory", "--mode", "rss", "--decisions", n),
        "rss_log": run_module("benchmarks.memory", "--mode", "rss", "--decisions", n, "--column", "log"),
        "tracemalloc": run_module("benchmarks.memory", "--mode", "tracemalloc", "--decisions", n),
    }


# -- goals -------------------------------------------------------------------------------------------

def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def goal(name: str, target: str, measured: float | None, met: bool | None, unit: str = "x") -> None:
        out.append({"goal": name, "target": target, "measured": measured, "unit": unit, "met": met})

    r = results["ratios"]
    goal("authrules vs inline, decisions plus log", "<= 1.15x", r["log"]["authrules_vs_inline"],
         r["log"]["authrules_vs_inline"] <= 1.15)
    goal("authrules vs inline, decisions only", "<= 3x", r["decisions"]["authrules_vs_inline"],
         r["decisions"]["authrules_vs_inline"] <= 3.0)
    for peer in engines.PEERS:
        goal(f"authrules faster than {peer}, decisions only", ">= 20x", r["decisions"][f"{peer}_vs_authrules"],
             r["decisions"][f"{peer}_vs_authrules"] >= PEER_DECISIONS_GOAL)
        goal(f"authrules faster than {peer}, decisions plus log", ">= 3x", r["log"][f"{peer}_vs_authrules"],
             r["log"][f"{peer}_vs_authrules"] >= PEER_LOG_GOAL)
    s = results["scaling"]["authrules"]
    goal("1,000 non-firing rules, per rule", "< 150 ns", s["ns_per_rule_at_1000"], s["ns_per_rule_at_1000"] < 150,
         "ns")
    marginal = list(s["marginal_ns_per_rule"].values())
    linear = s["r_squared"] >= 0.999 and abs(marginal[-1] - marginal[-2]) <= 0.25 * marginal[-1]
    goal("rule cost grows linearly (R^2 of a line through 1..1000 rules)", ">= 0.999, last two marginal costs "
         "within 25%", s["r_squared"], linear, "R^2")
    cold = results.get("cold_start")
    if cold:
        goal("cold start, authrules check vs bare imports", "<= 1.3x", cold["ratio"], cold["ratio"] <= 1.3)
    mem = results.get("memory")
    if mem:
        growth = max(mem["rss"]["rss_growth_bytes"], mem["rss_log"]["rss_growth_bytes"],
                     mem["tracemalloc"]["traced_growth_bytes"])
        goal(f"memory growth over {mem['rss']['decisions']:,} decisions", "< 5 MB", growth / 1e6,
             growth < 5_000_000, "MB")
    hosts = results.get("hosts") or {}
    for name, host in (hosts.get("hosts") or {}).items():
        goal(f"{name}: requests/s with the middleware vs without", ">= 0.95x", host["ratio"], host["ratio"] >= 0.95)
    for name, error in (hosts.get("failed") or {}).items():
        goal(f"{name}: requests/s with the middleware vs without (not measured: {error})", ">= 0.95x", None, None)
    return out


# -- writing -----------------------------------------------------------------------------------------

def _us(ns: float) -> str:
    return f"{ns / 1000:.2f}"


def markdown(results: dict[str, Any]) -> str:
    cols, rat = results["columns"], results["ratios"]
    m, v = results["machine"], results["versions"]
    lines = [
        f"Run of {results['generated']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}; "
        f"{m['python']}; " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        f"Request mix: {sum(MIX_SHAPE.values())} requests ({MIX_SHAPE['allowed']} allowed, "
        f"{MIX_SHAPE['denied_by_audience']} denied by audience, {MIX_SHAPE['denied_by_client']} denied by client), "
        f"checked equal across engines on {results['checked']['comparisons']} comparisons before timing. "
        "Median time per decision in µs, with the interquartile range (q1–q3) over the rounds; ratio = engine's "
        "median over authrules' (inline: authrules' over inline's).",
        "",
        "| engine | decisions only: µs (q1–q3) | ratio | decisions + 1 JSON log line: µs (q1–q3) | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in engines.NAMES:
        cells = []
        for column in ("decisions", "log"):
            row = cols[column][name]
            if name == "authrules":
                ratio = "1"
            elif name == "inline":
                ratio = f"authrules is {rat[column]['authrules_vs_inline']:.2f}x inline"
            else:
                ratio = f"{rat[column][f'{name}_vs_authrules']:.1f}x slower"
            cells += [f"{_us(row['median_ns'])} ({_us(row['q1_ns'])}–{_us(row['q3_ns'])})", ratio]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| rules (none fires) | authrules µs/decision | ns per rule | bare loop µs/decision |",
              "| --- | --- | --- | --- |"]
    rules = results["rules"]
    for count in sorted(rules["authrules"], key=int):
        a, f = rules["authrules"][count]["median_ns"], rules["floor"][count]["median_ns"]
        lines.append(f"| {int(count):,} | {_us(a)} | {a / int(count):.0f} | {_us(f)} |")
    s = results["scaling"]["authrules"]
    lines += ["", f"Linear fit over 1–1,000 rules: {s['slope_ns_per_rule']:.0f} ns per rule "
              f"(R² = {s['r_squared']:.4f}); the bare Python loop: "
              f"{results['scaling']['floor']['slope_ns_per_rule']:.0f} ns per rule.", ""]
    if results.get("parts"):
        lines += ["Other per-request costs a host pays (same harness, per request of the mix):", "",
                  "| part | µs (q1–q3) |", "| --- | --- |"]
        for part, row in results["parts"].items():
            lines.append(f"| {part} | {_us(row['median_ns'])} ({_us(row['q1_ns'])}–{_us(row['q3_ns'])}) |")
        lines.append("")
    parts = results["breakdown"]["parts_ns"]
    lines += ["What `Runner.evaluate` does beyond the inline engine, each part timed alone (ns, best of 7):", "",
              "| part | ns |", "| --- | --- |"]
    lines += [f"| {name} | {ns:.0f} |" for name, ns in parts.items()]
    lines.append("")
    cold = results.get("cold_start")
    if cold:
        lines += [f"Cold start (median of {cold['authrules check']['runs']} runs each, interleaved): "
                  f"`authrules check` {cold['authrules check']['median_ms']:.1f} ms, bare imports "
                  f"{cold['bare imports']['median_ms']:.1f} ms, `python -c pass` "
                  f"{cold['python -c pass']['median_ms']:.1f} ms: ratio {cold['ratio']:.2f}x.", ""]
    mem = results.get("memory")
    if mem:
        lines += [f"Memory over {mem['rss']['decisions']:,} decisions after a {mem['rss']['warmup']:,}-decision "
                  f"warm-up: RSS growth {mem['rss']['rss_growth_bytes'] / 1e6:.2f} MB (decisions only), "
                  f"{mem['rss_log']['rss_growth_bytes'] / 1e6:.2f} MB (with a JSON line each), traced by "
                  f"tracemalloc {mem['tracemalloc']['traced_growth_bytes'] / 1e3:.1f} kB.", ""]
    hosts = results.get("hosts") or {}
    if hosts.get("hosts"):
        lines += [f"Example hosts, {hosts['method']}:", "",
                  "| host | requests/s without middleware | with | ratio |", "| --- | --- | --- | --- |"]
        for name, host in hosts["hosts"].items():
            lines.append(f"| {name} | {host['off']['rps_median']:.0f} | {host['on']['rps_median']:.0f} | "
                         f"{host['ratio']:.3f} |")
        lines.append("")
    for name, error in (hosts.get("failed") or {}).items():
        lines += [f"Example host {name}: not measured, {error}.", ""]
    inproc = (hosts.get("flask_in_process") or {}).get("per_request_us")
    if inproc:
        lines += ["The Flask host called in-process (no server, no sockets), per allowed request, and the "
                  "middleware's parts timed alone:", "", "| what | µs |", "| --- | --- |"]
        lines += [f"| {name} | {us:.1f} |" for name, us in inproc.items()]
        lines.append("")
    if hosts.get("skipped"):
        lines += [f"Example hosts: not measured ({hosts['skipped']}).", ""]
    lines += ["| goal | target | measured | met |", "| --- | --- | --- | --- |"]
    for g in results["goals"]:
        measured = "–" if g["measured"] is None else f"{g['measured']:.3g} {g['unit']}".strip()
        met = "not measured" if g["met"] is None else "yes" if g["met"] else "**no**"
        lines.append(f"| {g['goal']} | {g['target']} | {measured} | {met} |")
    return "\n".join(lines)


def write_doc(text: str, doc: Path) -> None:
    current = doc.read_text(encoding="utf-8") if doc.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in current or END not in current:
        current += f"\n{BEGIN}\n{END}\n"
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def plots(results: dict[str, Any], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    rules = results["rules"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for engine, label, style in (("authrules", "authrules Runner.evaluate", "o-"),
                                 ("floor", "bare Python loop over the same rules", "s--")):
        counts = sorted(int(c) for c in rules[engine])
        left.plot(counts, [rules[engine][str(c)]["median_ns"] / 1000 for c in counts], style, label=label)
        base = rules[engine][str(counts[0])]["median_ns"]
        right.plot(counts[1:], [(rules[engine][str(c)]["median_ns"] - base) / (c - counts[0]) for c in counts[1:]],
                   style, label=label)
    left.set(xscale="log", yscale="log", xlabel="rules in the pipeline (none fires)", ylabel="µs per decision",
             title="Time per decision")
    right.set(xscale="log", xlabel="rules in the pipeline (none fires)", ylim=(0, 180),
              ylabel="ns per added rule, (t(N) - t(1)) / (N - 1)", title="Cost of each added rule")
    right.axhline(150, color="grey", linewidth=0.8, linestyle=":")
    right.text(10, 155, "goal: under 150 ns per rule", fontsize=8, color="grey")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / "performance-rules.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(str(path))

    cols = results["columns"]
    fig, ax = plt.subplots(figsize=(10, 4))
    names = list(engines.NAMES)
    width = 0.38
    for i, (column, label) in enumerate((("decisions", "decisions only"), ("log", "decisions + 1 JSON log line"))):
        xs = [j + (i - 0.5) * width for j in range(len(names))]
        ys = [cols[column][n]["median_ns"] / 1000 for n in names]
        errs = [[(cols[column][n]["median_ns"] - cols[column][n]["q1_ns"]) / 1000 for n in names],
                [(cols[column][n]["q3_ns"] - cols[column][n]["median_ns"]) / 1000 for n in names]]
        ax.bar(xs, ys, width, yerr=errs, label=label, capsize=2)
    ax.set_xticks(range(len(names)), names)
    ax.set(yscale="log", ylabel="µs per decision (median, q1–q3)", title="Same request mix, same log line")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / "performance-decisions.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(str(path))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test the harness; writes to a temp folder")
    parser.add_argument("--skip-hosts", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-cold-start", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="authrules-bench-"))
    out_json, doc, folder = RESULTS, DOC, DOC.parent
    if args.quick:
        out_json, doc, folder = work / "results.json", work / "performance.md", work
    load_before = os.getloadavg()
    raw, checked = run_pytest(work / "pytest-benchmark.json", args.quick)
    table = decisions_table(raw)
    results: dict[str, Any] = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "versions": versions(),
        "harness": f"pytest-benchmark {version('pytest-benchmark')}, pedantic mode: one round = one pass over the "
                   "mix; warm-up rounds, then rounds for about BENCH_SECONDS; medians and quartiles per round "
                   "divided by the decisions in a round",
        "mix": {"shape": MIX_SHAPE, "requests": sum(MIX_SHAPE.values())},
        "checked": checked,
        "engines": {name: {"tuning": table["columns"]["decisions"][name]["tuning"],
                           "library": table["columns"]["decisions"][name]["library"]} for name in engines.NAMES},
        "columns": table["columns"],
        "ratios": ratios(table["columns"]),
        "rules": table["rules"],
        "scaling": scaling(table["rules"]),
        "parts": table["parts"],
    }
    print("breakdown ...", flush=True)
    results["breakdown"] = run_module("benchmarks.breakdown")
    if not args.skip_cold_start:
        from . import coldstart

        print("cold start ...", flush=True)
        results["cold_start"] = coldstart.measure(runs=8 if args.quick else 40)
    if not args.skip_memory:
        print("memory ...", flush=True)
        results["memory"] = memory(args.quick)
    if not args.skip_hosts:
        from . import hosts

        print("example hosts ...", flush=True)
        results["hosts"] = hosts.measure(quick=args.quick)
    results["load_average"] = {"before": load_before, "after": os.getloadavg(),
                               "note": "1/5/15-minute load averages of the machine; other work on it adds noise"}
    results["goals"] = goals(results)
    out_json.write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    write_doc(text, doc)
    written = plots(results, folder)
    print()
    print(text)
    print()
    print(f"wrote {out_json}, {doc}, {', '.join(written)}")


if __name__ == "__main__":
    main()
