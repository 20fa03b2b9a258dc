"""Cold start: ``authrules check`` against ``python -c "import pluggy, structlog, tomli"``.

Each command runs as a fresh process, interleaved (A, B, A, B, ...) so drift
hits both alike; the median of many runs is reported. Bytecode caches are in
place for both (``compileall`` first, and ``PYTHONDONTWRITEBYTECODE`` is
dropped), as after a normal ``pip install``: otherwise authrules' own modules,
installed editable, would be compiled from source on every run while the
libraries' would not.

Run on its own: ``python -m benchmarks.coldstart [--runs N]`` prints JSON.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import ROOT

BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "AUTHRULES_CONFIG")}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def commands() -> dict[str, list[str]]:
    script = BIN / "authrules"
    check = [str(script), "check"] if script.exists() else [sys.executable, "-m", "authrules", "check"]
    return {
        "authrules check": check,
        "bare imports": [sys.executable, "-c", "import pluggy, structlog, tomli"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }


def _once(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"cold start: {' '.join(cmd)} failed: {done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def _quantiles(values: list[float]) -> dict[str, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median_ms": median * 1e3, "q1_ms": q1 * 1e3, "q3_ms": q3 * 1e3, "min_ms": min(values) * 1e3,
            "runs": len(values)}


def import_profile(env: dict[str, str], top: int = 15) -> dict[str, object]:
    """``-X importtime`` of ``authrules check`` beyond the bare imports: the slowest modules and subtrees."""
    code = ("import pluggy, structlog, tomli, sys; sys.argv = ['authrules', 'check']; "
            "from authrules._cli import main; main()")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    rows: list[tuple[str, int, int]] = []
    after_bare = False
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        name = parts[2].strip()
        if name == "tomli":
            after_bare = True
        elif after_bare:
            rows.append((name, int(parts[0]), int(parts[1])))
    cumulative = {name: cum for name, _, cum in rows}
    return {
        "total_ms": sum(s for _, s, _ in rows) / 1e3,
        "authrules_modules_self_ms": sum(s for n, s, _ in rows if n.startswith("authrules")) / 1e3,
        "subtrees_ms": {n: cumulative[n] / 1e3 for n in ("argparse", "authrules._plugins",
                                                        "authrules._runner", "authrules._request")
                        if n in cumulative},
        "slowest_self_ms": [{"module": n, "self_ms": s / 1e3}
                            for n, s, _ in sorted(rows, key=lambda r: -r[1])[:top]],
    }


def check_profile(env: dict[str, str]) -> dict[str, float]:
    """Where ``authrules check`` spends its time once the bare imports are loaded (one run, in ms)."""
    code = (
        "import time, io, contextlib, sys\n"
        "t0 = time.perf_counter()\n"
        "import pluggy, structlog, tomli\n"
        "t1 = time.perf_counter()\n"
        "t2 = t1\n"
        "from authrules._cli import main\n"
        "t3 = time.perf_counter()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['check'])\n"
        "t4 = time.perf_counter()\n"
        "import json\n"
        "print(json.dumps({'bare_imports_ms': (t1 - t0) * 1e3,\n"
        "                  'authrules_imports_ms': (t3 - t2) * 1e3, 'check_work_ms': (t4 - t3) * 1e3}))\n"
    )
    samples = []
    for _ in range(9):
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True)
        samples.append(json.loads(done.stdout))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def measure(runs: int = 40) -> dict[str, object]:
    env = _env()
    for folder in (ROOT / "src" / "core", ROOT / "plugins"):
        compileall.compile_dir(str(folder), quiet=1)
    cmds = commands()
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(3):  # warm the page cache and write any missing bytecode
        for name, cmd in cmds.items():
            _once(cmd, env)
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(_once(cmd, env))
    result: dict[str, object] = {name: _quantiles(values) for name, values in times.items()}
    check, bare = result["authrules check"], result["bare imports"]
    result["ratio"] = check["median_ms"] / bare["median_ms"]  # type: ignore[index]
    result["commands"] = {name: " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
                          for name, cmd in cmds.items()}
    result["breakdown_ms"] = check_profile(env)
    result["imports_beyond_bare"] = import_profile(env)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    print(json.dumps(measure(parser.parse_args().runs), indent=2))


if __name__ == "__main__":
    main()
