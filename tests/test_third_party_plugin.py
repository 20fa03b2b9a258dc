"""A plugin written outside this repo, really pip-installed, runs exactly where rules.toml puts it.

Two plugins are installed with pip into a throwaway venv (``python -m venv``
whose site-packages reaches .venv's through a ``.pth`` line; .venv itself is
never changed): one generated here in its own folder with its own
pyproject.toml (rule type ``deny-scope``), and the example shipped in
examples/plugins/authrules-scope-limit (rule type ``scope-limit``, which
narrows scopes). ``authrules`` then runs in that venv as ``python -m authrules``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest

from helpers import cli
from helpers.paths import EXAMPLE_PLUGINS
from helpers.plugins import project
from helpers.venvs import ThrowawayVenv
from helpers.wire import get

TODO = "http://todoapi2.api"
BILLING = "https://billing.example.com/api"

DENY_SCOPE_SOURCE = '''\
    """Rule type deny-scope: deny a request that asks for a given scope. Written outside authrules."""

    from dataclasses import dataclass

    from authrules import Deny, RuleType, hookimpl


    @dataclass(frozen=True)
    class Settings:
        scope: str


    def deny_scope(request, settings):
        if settings.scope in request.scopes:
            return Deny("invalid_scope", "scope not allowed here", 400)
        return None


    @hookimpl
    def authrules_rule_types():
        return [RuleType("deny-scope", deny_scope, Settings)]
    '''

AUDIENCE_RULE = '''
[[rules]]
name = "deny-todo-api"
type = "audience-deny"
[rules.settings]
audiences = ["http://todoapi2.api"]
deny_missing = true
'''
CLIENT_RULE = '''
[[rules]]
name = "deny-client"
type = "client-deny"
[rules.settings]
clients = ["CLIENT_ID"]
'''
THIRD_PARTY_RULE = '''
[[rules]]
name = "no-admin"
type = "deny-scope"
[rules.settings]
scope = "admin"
'''
NARROW_RULE = '''
[[rules]]
name = "narrow"
type = "scope-limit"
[rules.settings]
remove = ["email"]
'''


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> ThrowawayVenv:
    root = tmp_path_factory.mktemp("third-party")
    env = ThrowawayVenv(root / "venv")
    written = project(root / "src" / "authrules-deny-scope", "authrules-deny-scope", "authrules_deny_scope",
                      DENY_SCOPE_SOURCE, entry_point="deny-scope", version="2.3.4",
                      description="a plugin written outside authrules")
    example = shutil.copytree(EXAMPLE_PLUGINS / "authrules-scope-limit", root / "src" / "authrules-scope-limit")
    env.pip_install(written, example)  # copies: pip builds in-tree, and the repo stays clean
    return env


@pytest.fixture(scope="module")
def requests_dir(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("requests")

    def write(name: str, client: str, audience: str, scope: str) -> Path:
        target = "/authorize?" + urlencode({"response_type": "code", "client_id": client, "audience": audience,
                                            "scope": scope})
        path = folder / f"{name}.http"
        path.write_bytes(get(target))
        return path

    return {
        "all": write("all", "CLIENT_ID", TODO, "openid admin"),          # every rule would deny
        "client": write("client", "CLIENT_ID", BILLING, "openid admin"),  # client-deny and deny-scope would
        "scope": write("scope", "aB3dEfGh1JkLmNoP", BILLING, "openid admin"),  # only deny-scope would
        "ok": write("ok", "aB3dEfGh1JkLmNoP", BILLING, "openid email profile"),  # nobody denies
    }


def run_eval(venv: ThrowawayVenv, tmp_path: Path, toml: str, requests: dict[str, Path]):
    config = tmp_path / "rules.toml"
    config.write_text(toml)
    names = list(requests)
    result = cli.run(["eval", "--config", config, "--log-format", "json", "--log-level", "debug",
                      *requests.values()], exe=venv.authrules(), cwd=tmp_path)
    assert result.returncode in (0, 1), result.describe()
    by_name = dict(zip(names, result.decisions))
    rule_events = [e for e in result.log_events() if e["event"] == "authrules.rule"]
    order = {name: [e["rule"] for e in rule_events if e["decision_id"] == d["decision_id"]]
             for name, d in by_name.items()}
    return by_name, order, result


def test_plugins_lists_both_installed_distributions(venv):
    result = cli.run(["plugins"], exe=venv.authrules())
    assert result.returncode == 0, result.describe()
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "(authrules-deny-scope 2.3.4)" in lines["deny-scope"] and "rule types: deny-scope" in lines["deny-scope"]
    assert "(authrules-scope-limit 0.1.0)" in lines["scope-limit"]
    assert "rule types: scope-limit" in lines["scope-limit"]
    assert all(" loaded " in lines[name] for name in ("deny-scope", "scope-limit", "audience-deny", "client-deny"))
    as_json = cli.run(["plugins", "--json"], exe=venv.authrules())
    assert '"distribution": "authrules-deny-scope"' in as_json.stdout


def test_dot_venv_itself_is_not_changed(venv):
    result = cli.run(["plugins"])  # .venv's own authrules
    assert result.returncode == 0 and "deny-scope" not in result.stdout and "scope-limit" not in result.stdout


@pytest.mark.parametrize("position,toml,deciders,orders", [
    ("before", THIRD_PARTY_RULE + AUDIENCE_RULE + CLIENT_RULE,
     {"all": "no-admin", "client": "no-admin", "scope": "no-admin", "ok": None},
     {"all": ["no-admin"], "ok": ["no-admin", "deny-todo-api", "deny-client"]}),
    ("between", AUDIENCE_RULE + THIRD_PARTY_RULE + CLIENT_RULE,
     {"all": "deny-todo-api", "client": "no-admin", "scope": "no-admin", "ok": None},
     {"all": ["deny-todo-api"], "client": ["deny-todo-api", "no-admin"],
      "ok": ["deny-todo-api", "no-admin", "deny-client"]}),
    ("after", AUDIENCE_RULE + CLIENT_RULE + THIRD_PARTY_RULE,
     {"all": "deny-todo-api", "client": "deny-client", "scope": "no-admin", "ok": None},
     {"client": ["deny-todo-api", "deny-client"], "scope": ["deny-todo-api", "deny-client", "no-admin"],
      "ok": ["deny-todo-api", "deny-client", "no-admin"]}),
])
def test_the_third_party_rule_runs_where_rules_toml_puts_it(venv, requests_dir, tmp_path, position, toml,
                                                          deciders, orders):
    decisions, order, _ = run_eval(venv, tmp_path, toml, requests_dir)
    for name, rule in deciders.items():
        assert decisions[name]["rule"] == rule, (position, name, decisions[name])
        assert decisions[name]["outcome"] == ("allow" if rule is None else "deny")
    assert decisions["scope"]["rule_type"] == "deny-scope" and decisions["scope"]["error"] == "invalid_scope"
    for name, expected in orders.items():
        assert order[name] == expected, (position, name)


@pytest.mark.parametrize("toml,ran", [
    (NARROW_RULE + AUDIENCE_RULE + CLIENT_RULE, ["narrow", "deny-todo-api", "deny-client"]),
    (AUDIENCE_RULE + NARROW_RULE + CLIENT_RULE, ["deny-todo-api", "narrow", "deny-client"]),
    (AUDIENCE_RULE + CLIENT_RULE + NARROW_RULE, ["deny-todo-api", "deny-client", "narrow"]),
])
def test_the_example_scope_limit_plugin_narrows_where_it_is_put(venv, requests_dir, tmp_path, toml, ran):
    decisions, order, result = run_eval(venv, tmp_path, toml, requests_dir)
    ok = decisions["ok"]
    assert ok["outcome"] == "allow" and ok["scopes"] == ["openid", "profile"]  # email removed, order kept
    assert order["ok"] == ran
    narrow = [e for e in result.log_events() if e["event"] == "authrules.rule" and e["rule"] == "narrow"
              and e["decision_id"] == ok["decision_id"]]
    assert [(e["result"], e["removed"], e["rule_type"]) for e in narrow] == [("narrow", ["email"], "scope-limit")]
    granted = [e for e in result.log_events() if e["event"] == "authrules.decision"
               and e["decision_id"] == ok["decision_id"]]
    assert granted[0]["scopes_requested"] == ["openid", "email", "profile"]
    assert granted[0]["scopes_granted"] == ["openid", "profile"]
    # after a deny nothing runs: the narrowing rule placed last never sees the denied request
    if ran[-1] == "narrow":
        assert "narrow" not in order["all"]


def test_check_prints_the_pipeline_with_each_rule_s_distribution(venv, tmp_path):
    config = tmp_path / "rules.toml"
    config.write_text(AUDIENCE_RULE + NARROW_RULE + THIRD_PARTY_RULE + CLIENT_RULE)
    result = cli.run(["check", "--config", config], exe=venv.authrules())
    assert result.returncode == 0, result.describe()
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()[:2] in ("1.", "2.", "3.", "4.")]
    assert [line.split()[1] for line in lines] == ["deny-todo-api", "narrow", "no-admin", "deny-client"]
    assert "authrules-scope-limit 0.1.0" in lines[1] and "authrules-deny-scope 2.3.4" in lines[2]
