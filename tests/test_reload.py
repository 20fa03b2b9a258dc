"""runner.reload() under load, ConfigWatcher, and the example hosts' --watch.

Each config version k is told apart by what it does: it removes scope ``vk``
from every grant, and denies CLIENT_ID from a rule named ``deny-client-vk``
with the description ``denied_by_vk``. A decision made on one pipeline carries
one k everywhere; a decision made on a torn mix of two would not. And k must be
a version that was in force at some moment while the request ran.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _hostkit import BILLING, GOOD_CLIENT, ExampleHost, raw_request
from authrules import RemoveScopes, Request, Runner, RuleType, hookimpl
from authrules.wsgi import ConfigWatcher

VERSIONS = 20
SCOPES = " ".join(f"v{k}" for k in range(VERSIONS + 1))


@dataclass(frozen=True)
class NarrowSettings:
    remove: tuple[str, ...] = ()


class Narrow:
    @hookimpl
    def authrules_rule_types(self) -> list[RuleType]:
        return [RuleType("narrow", lambda request, s: RemoveScopes(s.remove), NarrowSettings)]


def versioned_toml(k: int) -> str:
    return f"""
[[rules]]
name = "narrow-v{k}"
type = "narrow"
[rules.settings]
remove = ["v{k % (VERSIONS + 1)}"]

[[rules]]
name = "deny-client-v{k}"
type = "client-deny"
[rules.settings]
clients = ["CLIENT_ID"]
error_description = "denied_by_v{k}"
"""


#: Broken in each way a config can break: syntax, unknown type, bad setting, empty.
BROKEN = [
    "[[rules]\nname = 'x'\n",
    '[[rules]]\nname = "x"\ntype = "no-such-type"\n',
    '[[rules]]\nname = "x"\ntype = "client-deny"\n[rules.settings]\nclients = "CLIENT_ID"\n',
    "# nothing\n",
    '[[rules]]\nname = "x"\ntype = "client-deny"\n[rules.settings]\nclients = ' + "[" * 5000 + "]" * 5000 + "\n",
]


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _capture() -> tuple[Any, list[dict[str, Any]]]:
    import structlog

    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def keep(_logger: Any, method: str, event: dict[str, Any]) -> Any:
        if event["event"] != "authrules.rule" and event["event"] != "authrules.decision":
            with lock:
                events.append({**event, "level": method})
        raise structlog.DropEvent

    return structlog.wrap_logger(structlog.ReturnLogger(), processors=[keep]), events


def version_of(decision: Any) -> int:
    """The one version a decision came from; fails if its parts name two.

    Every decision, allowed or denied, shows the scope its pipeline's first rule
    removed (a deny keeps the scopes as they stood when it came); a deny also
    names its rule and description, both from the second rule.
    """
    removed = set(SCOPES.split()) - set(decision.scopes)
    assert len(removed) == 1, f"torn decision: removed {sorted(removed)}"
    k = int(removed.pop()[1:])
    if decision.outcome == "deny":
        by_rule = int(decision.rule.rpartition("-v")[2])
        by_text = int(decision.error_description.rpartition("_v")[2])
        assert k == by_rule == by_text, f"torn decision: v{k} narrowed, v{by_rule} rule, v{by_text} description"
    return k


def test_reload_under_load_is_atomic_and_broken_files_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(versioned_toml(0))
    logger, events = _capture()
    runner = Runner.from_toml(path, logger=logger, plugins=[Narrow()])
    allowed = runner.parse(raw_request("POST", "/oauth/token", {"Content-Type": "application/x-www-form-urlencoded"},
                                       f"grant_type=client_credentials&client_id={GOOD_CLIENT}&audience={BILLING}"
                                       f"&scope={SCOPES.replace(' ', '+')}".encode()))
    denied = Request.from_parts("POST", "/oauth/token?client_id=CLIENT_ID&scope=" + SCOPES.replace(" ", "+"), [])
    published = [0]  # versions known in force: set after reload() returns True
    pending = [0]    # the newest version that may be in force: set before reload() is called
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: dict[int, int] = {}
    lock = threading.Lock()
    counts = [0] * 4

    def work(slot: int) -> None:
        try:
            i = 0
            while not stop.is_set():
                request = allowed if i % 2 == 0 else denied
                lo = published[0]
                decision = runner.evaluate(request)
                hi = pending[0]
                k = version_of(decision)
                assert lo <= k <= hi, f"decision of v{k} outside v{lo}..v{hi}"
                assert decision.outcome == ("allow" if request is allowed else "deny")
                with lock:
                    seen[k] = seen.get(k, 0) + 1
                counts[slot] += 1
                i += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread's assert
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    good = broken = 0
    try:
        for k in range(1, VERSIONS + 1):
            for text in BROKEN:
                write_atomically(path, text)
                assert runner.reload() is False
                broken += 1
                time.sleep(0.002)
            pending[0] = k
            write_atomically(path, versioned_toml(k))
            assert runner.reload() is True
            good += 1
            published[0] = k
            time.sleep(0.005)
            if errors:
                break
    finally:
        time.sleep(0.02)
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not errors, errors[0]
    assert all(n > 0 for n in counts)
    assert sum(seen.values()) > 100 and len(seen) >= VERSIONS // 2  # requests ran across many versions
    assert [s.name for s in runner.steps] == [f"narrow-v{VERSIONS}", f"deny-client-v{VERSIONS}"]
    failed = [e for e in events if e["event"] == "authrules.reload_failed"]
    reloaded = [e for e in events if e["event"] == "authrules.reloaded"]
    assert len(failed) == broken and len(reloaded) == good
    assert all(str(path) in e["error"] for e in failed)  # each says which file, and why


def test_reload_from_a_broken_file_keeps_the_old_decisions(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(versioned_toml(3))
    logger, _ = _capture()
    runner = Runner.from_toml(path, logger=logger, plugins=[Narrow()])
    denied = Request.from_parts("GET", "/authorize?client_id=CLIENT_ID", [])
    before = runner.evaluate(denied)
    for text in BROKEN:
        path.write_text(text)
        assert runner.reload() is False
        after = runner.evaluate(denied)
        assert (after.rule, after.error_description, after.status) == (before.rule, before.error_description,
                                                                        before.status)
    path.unlink()
    assert runner.reload() is False  # a missing file is broken too


def test_reload_keeps_the_old_pipeline_whatever_loading_raises(tmp_path: Path, monkeypatch) -> None:
    import authrules._runner as runner_module

    path = tmp_path / "rules.toml"
    path.write_text(versioned_toml(3))
    logger, events = _capture()
    runner = Runner.from_toml(path, logger=logger, plugins=[Narrow()])
    steps = runner.steps

    def explode(_path: Any) -> Any:
        raise RuntimeError("a bug somewhere below load_config")

    monkeypatch.setattr(runner_module, "load_config", explode)
    assert runner.reload() is False and runner.steps is steps
    failed = [e for e in events if e["event"] == "authrules.reload_failed"]
    assert failed and "unexpected RuntimeError" in failed[-1]["error"] and "bug somewhere" not in failed[-1]["error"]


def test_config_watcher_reloads_on_change_only(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(versioned_toml(1))
    logger, events = _capture()
    runner = Runner.from_toml(path, logger=logger, plugins=[Narrow()])
    watcher = ConfigWatcher(runner, path, interval=0.01)
    assert watcher.check() is None  # unchanged since the watcher was made
    write_atomically(path, versioned_toml(2))
    assert watcher.check() is True and runner.steps[1].name == "deny-client-v2"
    assert watcher.check() is None
    write_atomically(path, BROKEN[0])
    assert watcher.check() is False and runner.steps[1].name == "deny-client-v2"
    assert watcher.check() is None  # a broken file is not retried until it changes again
    watcher.start()
    try:
        write_atomically(path, versioned_toml(3))
        deadline = time.monotonic() + 10
        while runner.steps[1].name != "deny-client-v3" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runner.steps[1].name == "deny-client-v3"
    finally:
        watcher.stop()
    assert not watcher._thread.is_alive()  # type: ignore[union-attr]


def _client_deny_toml(k: int) -> str:
    return (f'[[rules]]\nname = "deny-client-v{k}"\ntype = "client-deny"\n[rules.settings]\n'
            f'clients = ["CLIENT_ID"]\nerror_description = "denied_by_v{k}"\n')


def _host_version(host: ExampleHost) -> int:
    body = b"grant_type=client_credentials&audience=https%3A%2F%2Fbilling.example.com%2Fapi"
    response = host.send(raw_request("POST", "/oauth/token", {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "Basic Q0xJRU5UX0lEOnMzY3IzdC1WYWx1ZQ=="}, body))
    assert response.status == 401, response.body
    match = re.fullmatch(r"denied_by_v(\d+)", response.json()["error_description"])
    assert match is not None, response.body
    return int(match.group(1))


def _count(host: ExampleHost, event: str) -> int:
    return sum(1 for e in host.events() if e.get("event") == event)


def test_example_hosts_watch_their_config_under_load(tmp_path: Path) -> None:
    for name in ("flask", "starlette"):
        path = tmp_path / f"{name}.toml"
        path.write_text(_client_deny_toml(0))
        with ExampleHost(name, "--watch", "--watch-interval", "0.02", config=path) as host:
            stop = threading.Event()
            errors: list[BaseException] = []
            seen: list[list[int]] = [[] for _ in range(3)]

            def work(slot: int) -> None:
                try:
                    while not stop.is_set():
                        seen[slot].append(_host_version(host))
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(3)]
            for thread in threads:
                thread.start()
            try:
                for k in range(1, 6):
                    write_atomically(path, _client_deny_toml(k))
                    deadline = time.monotonic() + 10
                    while _host_version(host) != k and time.monotonic() < deadline:
                        time.sleep(0.01)
                    assert _host_version(host) == k
                    write_atomically(path, BROKEN[k % len(BROKEN)])
                    deadline = time.monotonic() + 10  # wait until the watcher has seen it and refused it
                    while _count(host, "authrules.reload_failed") < k and time.monotonic() < deadline:
                        time.sleep(0.01)
                    assert _count(host, "authrules.reload_failed") == k
                    assert _host_version(host) == k
            finally:
                stop.set()
                for thread in threads:
                    thread.join(10)
            assert not errors, errors[0]
            for versions in seen:  # each client saw versions in order: old, then new, never back
                assert versions == sorted(versions) and versions
            assert _count(host, "authrules.reloaded") == 5
            assert _count(host, "authrules.reload_failed") == 5
