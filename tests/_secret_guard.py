"""pytest plugin: no secret may appear in any test's stdout, stderr or log files.

Loaded from tests/conftest.py for the whole suite. Secrets are:

* every ``secrets`` value in shared/cases/requests/expected.json, and the
  credentials of every ``Authorization`` header in the shared ``.http`` files
  (a Basic token is the secret, base64-encoded);
* every secret of the generated corpus: the tests build them with
  ``make_secret()``, so each holds ``MARKER``, which percent-encoding and
  repr() leave intact; encodings that hide the marker (a Basic token) are
  registered with ``register()``.

Checked for every test: what pytest captured (stdout, stderr and logging, in
every phase), what ``capsys``/``capfd`` handed the test, what a subprocess
returned through ``communicate()`` (``subprocess.run(capture_output=True)``),
every ``*.log`` / ``*.jsonl`` file under the test's ``tmp_path``, and every such
file in a ``tempfile.TemporaryDirectory`` when it is cleaned up (where the host
tests keep their servers' stderr). A leak
fails the test that made it, naming the secret's source but not its value.
"""

from __future__ import annotations

import base64
import re
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

import pytest

from _fault_env import expected_cases, shared_cases

MARKER = "Qz7sEcReT"
LOG_SUFFIXES = (".log", ".jsonl")

_lock = threading.Lock()
_known: dict[str, str] = {}          # secret text -> where it comes from
_tokens: set[str] = set()            # encoded secrets without the marker (Basic tokens)
_pending: list[str] = []             # leaks seen outside pytest's own capture, for the running test
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{8,}")


def make_secret(seed: str) -> str:
    """A generated secret the guard recognises in any percent- or repr-encoded form."""
    return f"{seed}{MARKER}{seed[::-1]}"


def register(value: str, source: str = "generated corpus") -> None:
    """Register an encoded secret that does not hold ``MARKER`` (e.g. a Basic token)."""
    with _lock:
        if MARKER not in value:
            _tokens.add(value)
            _known.setdefault(value, source)


def _forms(value: str) -> Iterable[str]:
    yield value
    yield quote_plus(value, safe="")
    yield quote(value, safe="")
    yield repr(value)[1:-1]


def _load_shared() -> None:
    try:
        cases = expected_cases()
        folder = shared_cases()
    except FileNotFoundError:
        return
    for name, case in cases.items():
        for value in case.get("secrets", ()):
            for form in _forms(value):
                _known.setdefault(form, f"expected.json case {name!r}")
    for path in sorted(folder.glob("*.http")):
        for line in path.read_bytes().decode("latin-1").splitlines():
            field, _, value = line.partition(":")
            if field.strip().lower() == "authorization" and value.strip():
                token = value.strip().partition(" ")[2].strip() or value.strip()
                _known.setdefault(token, f"Authorization header of {path.name}")
                _tokens.add(token)
                try:
                    decoded = base64.b64decode(token, validate=True).decode("utf-8")
                except ValueError:
                    continue
                secret = decoded.partition(":")[2]
                if secret:
                    _known.setdefault(secret, f"Basic credentials of {path.name}")


def find_leak(text: str | bytes) -> str | None:
    """Where the first secret found in ``text`` comes from, or None when it holds none."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text:
        return None
    if MARKER in text:
        return "the generated corpus (a value holding the secret marker)"
    for value, source in _known.items():
        if value in text:
            return source
    if _tokens:
        for token in _TOKEN.findall(text):
            if token in _tokens:
                return _known.get(token, "the generated corpus (an encoded credential)")
    return None


def check(text: str | bytes, where: str) -> None:
    """For tests: fail now if ``text`` holds a secret."""
    leak = find_leak(text)
    assert leak is None, f"a secret from {leak} appears in {where}"


def _note(text: Any, where: str) -> None:
    if isinstance(text, (str, bytes)):
        leak = find_leak(text)
        if leak is not None:
            with _lock:
                _pending.append(f"a secret from {leak} appears in {where}")


# -- wiring --------------------------------------------------------------------------------

_originals: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    _load_shared()
    from _pytest.capture import CaptureFixture

    readouterr = CaptureFixture.readouterr
    communicate = subprocess.Popen.communicate

    def guarded_readouterr(self: Any) -> Any:
        result = readouterr(self)
        _note(result.out, "output read through capsys/capfd (stdout)")
        _note(result.err, "output read through capsys/capfd (stderr)")
        return result

    def guarded_communicate(self: Any, *args: Any, **kwargs: Any) -> Any:
        out, err = communicate(self, *args, **kwargs)
        name = Path(str(self.args[0] if isinstance(self.args, (list, tuple)) else self.args)).name
        _note(out, f"a subprocess's stdout ({name})")
        _note(err, f"a subprocess's stderr ({name})")
        return out, err

    cleanup = tempfile.TemporaryDirectory.cleanup

    def guarded_cleanup(self: Any) -> Any:
        folder = Path(self.name)
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.suffix in LOG_SUFFIXES and path.is_file():
                    _note(path.read_bytes(), f"log file {path.name} of a temporary directory")
        return cleanup(self)

    tempfile.TemporaryDirectory.cleanup = guarded_cleanup  # type: ignore[method-assign]
    _originals.update(readouterr=readouterr, communicate=communicate, cleanup=cleanup)
    CaptureFixture.readouterr = guarded_readouterr  # type: ignore[method-assign]
    subprocess.Popen.communicate = guarded_communicate  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    from _pytest.capture import CaptureFixture

    if _originals:
        CaptureFixture.readouterr = _originals["readouterr"]  # type: ignore[method-assign]
        subprocess.Popen.communicate = _originals["communicate"]  # type: ignore[method-assign]
        tempfile.TemporaryDirectory.cleanup = _originals["cleanup"]  # type: ignore[method-assign]


def _log_files(item: pytest.Item) -> Iterable[Path]:
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if isinstance(tmp, Path) and tmp.is_dir():
        for path in tmp.rglob("*"):
            if path.suffix in LOG_SUFFIXES and path.is_file():
                yield path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    problems: list[str] = []
    with _lock:
        problems.extend(_pending)
        _pending.clear()
    for title, content in report.sections:
        leak = find_leak(content)
        if leak is not None:
            problems.append(f"a secret from {leak} appears in {title!r}")
    if report.when == "teardown":
        for path in _log_files(item):
            leak = find_leak(path.read_bytes())
            if leak is not None:
                problems.append(f"a secret from {leak} appears in log file {path.name}")
    if problems and not report.failed:
        report.outcome = "failed"
        report.longrepr = "secret guard: " + "; ".join(dict.fromkeys(problems))
    return report
