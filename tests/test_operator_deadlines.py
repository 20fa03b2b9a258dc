"""Fail closed whatever a rule raises, and an operator can put any rule under a deadline.

A pure rule type runs inline. Setting ``timeout_ms`` on its rule in rules.toml asks for a deadline,
so it then runs on a worker thread: a hang becomes a 503 deny instead of a hung request.
"""

from __future__ import annotations

import threading
import time

import pytest

from authrules import Request, RuleType, Runner, hookimpl

RAW = b"GET /authorize?client_id=c&audience=https%3A%2F%2Fa.example HTTP/1.1\r\nHost: x\r\n\r\n"
RELEASE = threading.Event()


class Exotic(BaseException):
    """A rule's own BaseException subclass: not Exception, not SystemExit."""


def raise_exotic(request, settings):
    raise Exotic("boom")


def raise_interrupt(request, settings):
    raise KeyboardInterrupt


def hang(request, settings):
    RELEASE.wait(30)


class Plugin:
    @hookimpl
    def authrules_rule_types(self):
        return [RuleType("exotic", raise_exotic), RuleType("interrupt", raise_interrupt),
                RuleType("hang", hang)]


def runner(*rules):
    return Runner.from_dict({"rules": list(rules)}, plugins=[Plugin()], autoload=False)


def test_a_base_exception_subclass_from_a_rule_denies():
    d = runner({"name": "e", "type": "exotic"}).evaluate(Request.from_http(RAW))
    assert (d.outcome, d.error, d.status, d.rule) == ("deny", "server_error", 500, "e")


def test_a_base_exception_subclass_denies_on_the_async_path_too():
    import asyncio
    d = asyncio.run(runner({"name": "e", "type": "exotic"}).evaluate_async(Request.from_http(RAW)))
    assert (d.outcome, d.error, d.status) == ("deny", "server_error", 500)


def test_ctrl_c_on_the_calling_thread_still_interrupts():
    with pytest.raises(KeyboardInterrupt):
        runner({"name": "i", "type": "interrupt"}).evaluate(Request.from_http(RAW))


def test_timeout_ms_puts_a_pure_rule_under_a_deadline():
    r = runner({"name": "slow", "type": "hang", "timeout_ms": 100})
    started = time.perf_counter()
    try:
        d = r.evaluate(Request.from_http(RAW))
    finally:
        RELEASE.set()
    elapsed = time.perf_counter() - started
    assert (d.outcome, d.error, d.status, d.rule) == ("deny", "temporarily_unavailable", 503, "slow")
    assert elapsed < 5, "the deadline did not cut the hung rule off"
    RELEASE.clear()


def test_without_timeout_ms_a_pure_rule_runs_inline():
    r = runner({"name": "e", "type": "exotic"})
    assert r.steps[0].mode == 0
    assert runner({"name": "e", "type": "exotic", "timeout_ms": 50}).steps[0].mode == 1


def test_reprs_of_loaded_rules_never_show_secret_settings():
    from dataclasses import dataclass

    from authrules import secret

    @dataclass(frozen=True)
    class Keyed:
        api_key: str = secret(default="")

    class KeyedPlugin:
        @hookimpl
        def authrules_rule_types(self):
            return [RuleType("keyed", lambda request, settings: None, Keyed)]

    r = Runner.from_dict({"rules": [{"name": "k", "type": "keyed", "settings": {"api_key": "TOPSECRET-42"}}]},
                         plugins=[KeyedPlugin()], autoload=False)
    assert "TOPSECRET-42" not in repr(r.steps)
    assert "TOPSECRET-42" not in repr(r.config)


def test_reload_reads_the_same_file_after_the_host_changes_directory(tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / "rules.toml").write_text('[[rules]]\nname = "e"\ntype = "exotic"\n')
    (elsewhere / "rules.toml").write_text('[[rules]]\nname = "other"\ntype = "exotic"\n')
    monkeypatch.chdir(home)
    r = Runner.from_toml("rules.toml", plugins=[Plugin()], autoload=False)
    monkeypatch.chdir(elsewhere)
    (home / "rules.toml").write_text('[[rules]]\nname = "renamed"\ntype = "exotic"\n')
    assert r.reload() is True
    assert [s.name for s in r.steps] == ["renamed"]


@pytest.mark.parametrize("problem, status", [('a"b', 400), ("new\nline", 400), ("fine", 200), ("fine", "x")])
def test_a_host_built_request_with_unsendable_problem_text_still_gets_a_decision(problem, status):
    import asyncio

    r = runner({"name": "e", "type": "exotic"})
    for decide in (r.evaluate, lambda q: asyncio.run(r.evaluate_async(q))):
        d = decide(Request(problem=problem, problem_status=status))
        assert (d.outcome, d.error, d.rule) == ("deny", "invalid_request", None)
        assert 400 <= d.status <= 599
