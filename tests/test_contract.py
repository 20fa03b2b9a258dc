"""The plugin contract: RuleType, results, settings schemas, in-process registration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from authrules import ConfigError, Deny, PluginError, RemoveScopes, Request, RuleType, Runner, hookimpl, secret

AUTHORIZE = (b"GET /authorize?client_id=c1&scope=openid+email+admin&audience=https%3A%2F%2Fapi.example.com"
             b" HTTP/1.1\r\nHost: as.example.com\r\n\r\n")


@dataclass(frozen=True)
class LimitSettings:
    allowed: frozenset[str]


def scope_limit(request, settings):
    extra = set(request.scopes) - settings.allowed
    return RemoveScopes(extra) if extra else None


@dataclass(frozen=True)
class DenySettings:
    client: str
    mode: Literal["exact", "prefix"] = "exact"
    retries: int = 0
    ratio: float = 1.0
    token: str = secret(default="")
    tags: tuple[str, ...] = ()
    note: str | None = None
    deny: Deny = field(init=False, repr=False)

    def __post_init__(self):
        if not self.client:
            raise ValueError("client must not be empty")
        object.__setattr__(self, "deny", Deny("access_denied", "client not allowed", 403))


def client_is(request, settings):
    cid = request.client_id or ""
    hit = cid == settings.client if settings.mode == "exact" else cid.startswith(settings.client)
    return settings.deny if hit else None


class ContractPlugin:
    @hookimpl
    def authrules_rule_types(self):
        return [RuleType("scope-limit", scope_limit, LimitSettings),
                RuleType("client-is", client_is, DenySettings)]


def runner(rules, plugins=None, **kw):
    return Runner.from_dict({"rules": rules}, plugins=plugins or [ContractPlugin()], autoload=False, **kw)


def test_remove_scopes_narrows_the_grant_and_later_rules_still_run():
    r = runner([{"name": "limit", "type": "scope-limit", "settings": {"allowed": ["openid", "email"]}},
                {"name": "deny-c2", "type": "client-is", "settings": {"client": "c2"}}])
    d = r.evaluate(Request.from_http(AUTHORIZE))
    assert d.outcome == "allow"
    assert d.scopes == ("openid", "email")
    assert d.requested_scopes == ("openid", "email", "admin")


def test_narrowing_twice_accumulates_and_a_later_deny_still_denies():
    r = runner([{"name": "a", "type": "scope-limit", "settings": {"allowed": ["openid", "email"]}},
                {"name": "b", "type": "scope-limit", "settings": {"allowed": ["openid"]}},
                {"name": "deny", "type": "client-is", "settings": {"client": "c", "mode": "prefix"}}])
    d = r.evaluate(Request.from_http(AUTHORIZE))
    assert (d.outcome, d.rule, d.rule_type, d.status, d.error) == ("deny", "deny", "client-is", 403, "access_denied")
    assert d.scopes == ("openid",)


def test_same_rule_type_twice_with_different_settings():
    r = runner([{"name": "not-c2", "type": "client-is", "settings": {"client": "c2"}},
                {"name": "not-c1", "type": "client-is", "settings": {"client": "c1"}}])
    assert [s.name for s in r.steps] == ["not-c2", "not-c1"]
    assert r.evaluate(Request.from_http(AUTHORIZE)).rule == "not-c1"


@pytest.mark.parametrize("settings, problem", [
    ({}, "missing required setting client"),
    ({"client": "c", "zzz": 1}, "unknown setting zzz"),
    ({"client": 5}, "setting client must be str, got int"),
    ({"client": "c", "mode": "fuzzy"}, "setting mode must be one of 'exact', 'prefix'"),
    ({"client": "c", "retries": True}, "setting retries must be int, got bool"),
    ({"client": "c", "retries": "3"}, "setting retries must be int, got str"),
    ({"client": "c", "ratio": "1"}, "setting ratio must be a number"),
    ({"client": "c", "tags": "x"}, "setting tags must be an array"),
    ({"client": "c", "tags": ["x", 1]}, "setting tags[1] must be str, got int"),
    ({"client": "c", "note": 3}, "setting note must be str | None"),
    ({"client": ""}, "client must not be empty"),
    ({"client": "c", "deny": {}}, "unknown setting deny"),
])
def test_settings_are_checked_at_load(settings, problem):
    with pytest.raises(ConfigError) as info:
        runner([{"name": "my-rule", "type": "client-is", "settings": settings}])
    message = str(info.value)
    assert problem in message
    assert "rule 'my-rule'" in message and "client-is" in message


def test_settings_convert_arrays_to_the_declared_container():
    r = runner([{"name": "x", "type": "client-is", "settings": {"client": "c", "tags": ["a", "b"], "ratio": 2}}])
    settings = r.steps[0].settings
    assert settings.tags == ("a", "b") and settings.ratio == 2.0


def test_secret_setting_is_marked():
    import dataclasses
    (token,) = [f for f in dataclasses.fields(DenySettings) if f.name == "token"]
    assert token.metadata["secret"] is True


@pytest.mark.parametrize("kwargs", [
    {"error": ""}, {"error": 'bad"quote'}, {"error": "x", "description": "new\nline"},
    {"status": 200}, {"status": 600}, {"status": True}, {"status": "401"},
])
def test_deny_validates_what_reaches_the_client(kwargs):
    with pytest.raises(ValueError):
        Deny(**kwargs)


@pytest.mark.parametrize("scopes", ["openid", ["bad scope"], [1], ['quo"te']])
def test_remove_scopes_validates(scopes):
    with pytest.raises((TypeError, ValueError)):
        RemoveScopes(scopes)


def test_results_are_final():
    with pytest.raises(TypeError):
        type("MyDeny", (Deny,), {})


@pytest.mark.parametrize("name", ["", "Upper", "has space", "x" * 65, "-lead"])
def test_rule_type_names_are_checked(name):
    with pytest.raises(ValueError):
        RuleType(name, scope_limit, LimitSettings)


def test_rule_type_settings_must_be_a_dataclass():
    with pytest.raises(TypeError):
        RuleType("x", scope_limit, dict)
    with pytest.raises(TypeError):
        RuleType("x", "not callable")


def test_hook_returning_non_rule_types_fails_the_plugin():
    class Bad:
        @hookimpl
        def authrules_rule_types(self):
            return ["not a rule type"]

    with pytest.raises(PluginError) as info:
        Runner.from_dict({"rules": [{"name": "r", "type": "scope-limit", "settings": {"allowed": []}}]},
                         plugins=[Bad()], autoload=False)
    assert "it may be provided by a plugin that failed to load: plugin 'Bad'" in str(info.value)
    assert "not RuleType" in str(info.value)


def test_misspelled_hook_is_refused():
    class Typo:
        @hookimpl
        def authrules_rule_type(self):
            return []

    with pytest.raises(PluginError) as info:
        runner([{"name": "x", "type": "client-is", "settings": {"client": "c"}}], plugins=[ContractPlugin(), Typo()])
    assert "authrules_rule_type" in str(info.value)


def test_empty_or_all_disabled_pipelines_refuse_to_load():
    with pytest.raises(ConfigError, match="empty pipeline"):
        Runner.from_dict({"rules": []}, plugins=[ContractPlugin()], autoload=False)
    with pytest.raises(ConfigError, match="every rule is disabled"):
        runner([{"name": "x", "type": "client-is", "enabled": False, "settings": {"client": "c"}}])


def test_disabled_rule_is_still_checked():
    with pytest.raises(ConfigError, match="unknown setting"):
        runner([{"name": "x", "type": "client-is", "settings": {"client": "c"}},
                {"name": "y", "type": "client-is", "enabled": False, "settings": {"bogus": 1}}])
