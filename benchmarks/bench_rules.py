"""Cost against the number of rules: 1, 10, 100, 1,000 in-process rules, none of which fires.

``authrules`` runs them through ``Runner.evaluate`` (decisions column: logging
filtered out). ``floor`` is the bare Python loop over the same rule functions
(``for rule in rules: if rule(request, None) is not None: break``), the least
any runner could cost per rule.
"""

from __future__ import annotations

import pytest

from authrules import Request, RuleType, Runner, hookimpl

from . import common
from .conftest import pedantic

COUNTS = (1, 10, 100, 1000)


def passes(request: Request, settings: None) -> None:
    """A rule that looks at the request and lets it go on."""
    return None


class PassPlugin:
    """An in-process plugin offering rule type ``bench-pass``."""

    @hookimpl
    def authrules_rule_types(self) -> list[RuleType]:
        return [RuleType("bench-pass", passes, description="never fires")]


def runner_with(count: int) -> Runner:
    config = {"rules": [{"name": f"pass-{i}", "type": "bench-pass"} for i in range(count)]}
    return Runner.from_dict(config, plugins=[PassPlugin()], autoload=False)


def floor_round(count: int):
    rules = (passes,) * count

    def decide(request: Request) -> None:
        for rule in rules:
            if rule(request, None) is not None:
                break

    def round_(mix: list[Request]) -> None:
        for request in mix:
            decide(request)

    return round_


CASES = [(engine, count) for engine in ("authrules", "floor") for count in COUNTS]


@pytest.mark.parametrize(("engine", "count"), CASES, ids=[f"{e}:{c}" for e, c in CASES])
def test_rules(benchmark, mix, sink, engine, count):
    common.configure_logging("decisions", sink)
    if engine == "authrules":
        runner = runner_with(count)
        assert len(runner.steps) == count and all(runner.evaluate(r).allowed for r in mix)
        evaluate = runner.evaluate

        def round_(requests):
            for request in requests:
                evaluate(request)
    else:
        round_ = floor_round(count)
    benchmark.group = "rules"
    pedantic(benchmark, sink, round_, mix, kind="rules", column="decisions", engine=engine, rules=count)
