"""Run the installed ``authrules`` command as a user would, and read what it printed."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .paths import AUTHRULES, REPO

#: The keys ``authrules eval`` prints for each request, in this order (issue 2).
DECISION_KEYS = ("request", "outcome", "rule", "rule_type", "status", "error", "error_description",
                 "client_id", "audiences", "scopes", "decision_id")


def clean_env(**extra: str | None) -> dict[str, str]:
    """This process's environment without any AUTHRULES_* setting, plus ``extra`` (None removes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHRULES_")}
    env.pop("PYTHONPATH", None)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def log_events(self) -> list[dict[str, Any]]:
        """stderr parsed as JSON lines (``--log-format json``); a line that is not JSON fails the test."""
        events = []
        for line in self.stderr.splitlines():
            if line.startswith("authrules: error:"):
                continue
            events.append(json.loads(line))
        return events

    def describe(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit {self.returncode}\n--- stdout\n{self.stdout}"
                f"--- stderr\n{self.stderr}")


def run(args: Sequence[str | os.PathLike[str]], *, stdin: bytes | None = None, env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None, exe: Sequence[str] | None = None,
        timeout: float = 60) -> Result:
    """Run ``authrules ARGS`` (or ``exe ARGS``) and parse its stdout as decisions where it is JSON."""
    command = [*(exe or [str(AUTHRULES)]), *(str(a) for a in args)]
    proc = subprocess.run(command, input=stdin if stdin is not None else b"", capture_output=True,
                          env=env if env is not None else clean_env(), cwd=cwd or REPO, timeout=timeout)
    stdout = proc.stdout.decode("utf-8")
    stderr = proc.stderr.decode("utf-8")
    decisions = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            decisions.append(json.loads(line))
    return Result([str(c) for c in command], proc.returncode, stdout, stderr, decisions)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
