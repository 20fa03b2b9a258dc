"""Rules run in the order rules.toml gives, never in install or registration order.

Plugins are registered in-process in the opposite order to the rules, and
entry-point plugins are named so that discovery (sorted by name) meets them in
the opposite order too; then every order of the rules in TOML is tried. The
deciding rule and the order of ``authrules.rule`` log events follow TOML.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from helpers.plugins import site_dist
from helpers.wire import get

from authrules import Deny, Request, RuleType, hookimpl

ASKS_X = get("/authorize?client_id=c1&audience=https%3A%2F%2Fapi.example.com&scope=x+y")
ASKS_Y = get("/authorize?client_id=c1&audience=https%3A%2F%2Fapi.example.com&scope=y")


@dataclass(frozen=True)
class Word:
    word: str


def deny_word(request, settings: Word):
    return Deny("access_denied", f"no {settings.word}", 403) if settings.word in request.scopes else None


class Provider:
    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.__name__ = f"provider-{type_name}"

    @hookimpl
    def authrules_rule_types(self):
        return [RuleType(self.type_name, deny_word, Word)]


TYPES = ["alpha", "bravo", "charlie"]


def rules_toml(order: list[str]) -> str:
    return "".join(f'[[rules]]\nname = "rule-{t}"\ntype = "{t}"\n[rules.settings]\nword = "x"\n\n' for t in order)


@pytest.mark.parametrize("registration", [TYPES, TYPES[::-1]], ids=["registered-abc", "registered-cba"])
@pytest.mark.parametrize("order", list(itertools.permutations(TYPES)), ids="-".join)
def test_in_process_plugins_run_in_toml_order(runner_from, registration, order):
    runner, events = runner_from(rules_toml(list(order)), plugins=[Provider(t) for t in registration],
                                 autoload=False)
    assert [s.name for s in runner.steps] == [f"rule-{t}" for t in order]
    denied = runner.evaluate(Request.from_http(ASKS_X))   # every rule would deny: the first in TOML does
    assert (denied.rule, denied.rule_type) == (f"rule-{order[0]}", order[0])
    assert events.rule_order() == [f"rule-{order[0]}"]
    events.clear()
    allowed = runner.evaluate(Request.from_http(ASKS_Y))  # nobody denies: all run, in TOML order
    assert allowed.outcome == "allow"
    assert events.rule_order() == [f"rule-{t}" for t in order]


def test_reordering_the_toml_reorders_the_rules(runner_from):
    first, events_1 = runner_from(rules_toml(["charlie", "alpha", "bravo"]),
                                  plugins=[Provider(t) for t in TYPES], autoload=False)
    first.evaluate(Request.from_http(ASKS_Y))
    second, events_2 = runner_from(rules_toml(["bravo", "charlie", "alpha"]),
                                   plugins=[Provider(t) for t in TYPES], autoload=False)
    second.evaluate(Request.from_http(ASKS_Y))
    assert events_1.rule_order() == ["rule-charlie", "rule-alpha", "rule-bravo"]
    assert events_2.rule_order() == ["rule-bravo", "rule-charlie", "rule-alpha"]


ENTRY_POINT_SOURCE = """\
    from dataclasses import dataclass

    from authrules import Deny, RuleType, hookimpl


    @dataclass(frozen=True)
    class Word:
        word: str


    def deny_word(request, settings):
        return Deny("access_denied", "no", 403) if settings.word in request.scopes else None


    @hookimpl
    def authrules_rule_types():
        return [RuleType({type_name!r}, deny_word, Word)]
    """


@pytest.fixture
def entry_point_site(tmp_path, monkeypatch, request):
    """Three entry-point plugins whose names sort (zulu, yankee, xray) against the rule order tried."""
    site = tmp_path / "site"
    tag = f"order{abs(hash(request.node.nodeid)) % 10**8}"
    for ep, type_name in (("zulu", "alpha"), ("yankee", "bravo"), ("xray", "charlie")):
        site_dist(site, f"{tag}-{ep}", f"{tag}_{ep}", ENTRY_POINT_SOURCE.format(type_name=type_name),
                  entry_point=f"{tag}-{ep}")
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.mark.parametrize("order", [TYPES, TYPES[::-1], ["bravo", "alpha", "charlie"]], ids="-".join)
def test_entry_point_plugins_run_in_toml_order_not_discovery_order(runner_from, entry_point_site, order):
    toml = rules_toml(order) + (
        '[[rules]]\nname = "deny-client"\ntype = "client-deny"\n[rules.settings]\nclients = ["nobody"]\n')
    runner, events = runner_from(toml)
    assert [s.name for s in runner.steps] == [f"rule-{t}" for t in order] + ["deny-client"]
    assert runner.evaluate(Request.from_http(ASKS_X)).rule == f"rule-{order[0]}"
    events.clear()
    runner.evaluate(Request.from_http(ASKS_Y))
    assert events.rule_order() == [f"rule-{t}" for t in order] + ["deny-client"]


def test_first_party_and_in_process_rules_interleave_as_written(runner_from):
    toml = (rules_toml(["bravo"])
            + '[[rules]]\nname = "deny-client"\ntype = "client-deny"\n[rules.settings]\nclients = ["c1"]\n\n'
            + rules_toml(["alpha"]))
    runner, events = runner_from(toml, plugins=[Provider("alpha"), Provider("bravo")])
    assert runner.evaluate(Request.from_http(ASKS_Y)).rule == "deny-client"
    assert events.rule_order() == ["rule-bravo", "deny-client"]
    events.clear()
    assert runner.evaluate(Request.from_http(ASKS_X)).rule == "rule-bravo"
