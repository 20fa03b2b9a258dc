"""Bad configs refuse to load with a message naming file, rule and problem; exit 2 from check and eval.

Each case is a whole rules.toml with one fault in its second rule. The message
must name the file (and the line of that rule's ``[[rules]]``, or of a TOML
syntax error), the rule, and the problem, the same from ``authrules check``,
``authrules eval`` and ``Runner.from_toml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli
from helpers.logs import capturing_logger
from helpers.plugins import BROKEN_PLUGIN, site_dist
from helpers.wire import get

from authrules import ConfigError, PluginError, Runner

GOOD_FIRST = '''# a config with one fault, in its second rule
[[rules]]
name = "deny-todo-api"
type = "audience-deny"
[rules.settings]
audiences = ["http://todoapi2.api"]

'''
SECOND_LINE = 8  # the line of the second [[rules]]


def second(body: str) -> str:
    return GOOD_FIRST + "[[rules]]\n" + body


CASES = {
    "unknown-rule-type": (second('name = "deny-client"\ntype = "client-denyy"\n'),
                          ["deny-client", "unknown rule type 'client-denyy'", "audience-deny", "client-deny"]),
    "unknown-setting": (second('name = "deny-client"\ntype = "client-deny"\n[rules.settings]\n'
                               'clients = ["CLIENT_ID"]\nclient = ["typo"]\n'),
                        ["deny-client", "unknown setting client", "clients"]),
    "mistyped-setting-bool": (second('name = "deny-client"\ntype = "client-deny"\n[rules.settings]\n'
                                     'clients = ["CLIENT_ID"]\ndeny_missing = "yes"\n'),
                              ["deny-client", "deny_missing", "bool", "str"]),
    "mistyped-setting-array": (second('name = "deny-client"\ntype = "client-deny"\n[rules.settings]\n'
                                      'clients = "CLIENT_ID"\n'),
                               ["deny-client", "clients", "array"]),
    "mistyped-setting-item": (second('name = "deny-client"\ntype = "client-deny"\n[rules.settings]\n'
                                     'clients = ["CLIENT_ID", 7]\n'),
                              ["deny-client", "clients[1]", "str", "int"]),
    "mistyped-setting-int": (second('name = "deny-client"\ntype = "client-deny"\n[rules.settings]\n'
                                    'clients = ["CLIENT_ID"]\nstatus = "401"\n'),
                             ["deny-client", "status", "int"]),
    "invalid-setting-value": (second('name = "deny-client"\ntype = "client-deny"\n[rules.settings]\n'
                                     'clients = ["CLIENT_ID"]\nstatus = 200\n'),
                              ["deny-client", "status", "400"]),
    "duplicate-rule-name": (second('name = "deny-todo-api"\ntype = "client-deny"\n[rules.settings]\n'
                                   'clients = ["CLIENT_ID"]\n'),
                            ["deny-todo-api", "duplicate rule name", "#1"]),
    "unknown-rule-key": (second('name = "deny-client"\ntype = "client-deny"\nenabeld = false\n'),
                         ["deny-client", "unknown key 'enabeld'", "enabled"]),
    "missing-type": (second('name = "deny-client"\n'), ["deny-client", "missing key 'type'"]),
    "mistyped-rule-key": (second('name = "deny-client"\ntype = "client-deny"\nenabled = "no"\n'
                                 '[rules.settings]\nclients = ["x"]\n'),
                          ["deny-client", "'enabled'", "a boolean", "string"]),
    "mistyped-timeout": (second('name = "deny-client"\ntype = "client-deny"\ntimeout_ms = "50"\n'),
                         ["deny-client", "'timeout_ms' must be an integer, got string"]),
    # A deadline past what the thread and asyncio timeouts can wait for once loaded, then failed every request.
    "timeout-too-long": (second('name = "deny-client"\ntype = "client-deny"\ntimeout_ms = 9999999999999999\n'
                                '[rules.settings]\nclients = ["x"]\n'),
                         ["deny-client", "'timeout_ms' must be an integer from 1 to 3600000"]),
    "timeout-zero": (second('name = "deny-client"\ntype = "client-deny"\ntimeout_ms = 0\n'
                            '[rules.settings]\nclients = ["x"]\n'),
                     ["deny-client", "'timeout_ms' must be an integer from 1 to 3600000"]),
}


def _check_message(text: str, config: Path, fragments: list[str], line: int | None) -> None:
    assert str(config) in text, text
    if line is not None:
        assert f"{config}:{line}:" in text, text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


@pytest.fixture
def request_file(tmp_path) -> Path:
    path = tmp_path / "request.http"
    path.write_bytes(get("/authorize?client_id=c1&audience=https%3A%2F%2Fapi.example.com"))
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_check_and_eval_exit_2_naming_file_rule_and_problem(case, tmp_path, request_file):
    toml, fragments = CASES[case]
    config = tmp_path / "rules.toml"
    config.write_text(toml)
    for args in (["check", "--config", config], ["eval", "--config", config, request_file]):
        result = cli.run(args)
        assert result.returncode == 2, result.describe()
        assert result.stdout == "", result.describe()  # no pipeline, no decision
        assert result.stderr.startswith("authrules: error: ") and len(result.stderr.splitlines()) == 1
        _check_message(result.stderr, config, fragments, SECOND_LINE)
    with pytest.raises(ConfigError) as caught:
        Runner.from_toml(config, logger=capturing_logger()[0])
    assert caught.value.path == str(config) and caught.value.line == SECOND_LINE
    assert caught.value.rule is not None and fragments[0] in caught.value.rule
    _check_message(str(caught.value), config, fragments, SECOND_LINE)


@pytest.mark.parametrize("toml,line,fragment", [
    (GOOD_FIRST + '[[rules]]\nname = "deny-client\ntype = "client-deny"\n', 9, "TOML syntax error"),
    (GOOD_FIRST + "[[rules]]\nname = deny-client\n", 9, "TOML syntax error"),
    (GOOD_FIRST + '[[rules]]\nname = "a"\nname = "b"\n', 10, "TOML syntax error"),
    ('[[rules]\nname = "x"\n', 1, "TOML syntax error"),
])
def test_toml_syntax_error_names_the_line(tmp_path, request_file, toml, line, fragment):
    config = tmp_path / "rules.toml"
    config.write_text(toml)
    for args in (["check", "--config", config], ["eval", "--config", config, request_file]):
        result = cli.run(args)
        assert result.returncode == 2 and result.stdout == "", result.describe()
        _check_message(result.stderr, config, [fragment], line)
    with pytest.raises(ConfigError) as caught:
        Runner.from_toml(config, logger=capturing_logger()[0])
    assert caught.value.line == line


@pytest.mark.parametrize("toml,fragments", [
    ("", ["no [[rules]]"]),
    ('title = "x"\n', ["unknown top-level key 'title'"]),
    (GOOD_FIRST + "[limits]\nmax_body_bytes = -1\n", ["[limits]", "max_body_bytes"]),
    (GOOD_FIRST + "[limits]\nrule_timeout_ms = 99999999999\n", ["[limits]", "rule_timeout_ms", "at most 3600000"]),
    # tomli reads nested arrays recursively: 5,000 levels raised RecursionError with a traceback.
    (GOOD_FIRST + "x = " + "[" * 5000 + "]" * 5000 + "\n", ["nested too deeply"]),
    (GOOD_FIRST + "x = " + "1" * 5000 + "\n", ["more digits than Python reads"]),
    (GOOD_FIRST + "[limits]\nmax_body_bytes = 9223372036854775808\n", ["[limits]", "max_body_bytes", "at most"]),
    (GOOD_FIRST.replace("[[rules]]\n", '[[rules]]\nenabled = false\n', 1), ["every rule is disabled"]),
])
def test_whole_file_problems_name_the_file(tmp_path, request_file, toml, fragments):
    config = tmp_path / "rules.toml"
    config.write_text(toml)
    for args in (["check", "--config", config], ["eval", "--config", config, request_file]):
        result = cli.run(args)
        assert result.returncode == 2 and result.stdout == "", result.describe()
        _check_message(result.stderr, config, fragments, None)


def test_missing_or_unreadable_config(tmp_path, request_file):
    for config in (tmp_path / "absent.toml", tmp_path):
        for args in (["check", "--config", config], ["eval", "--config", config, request_file]):
            result = cli.run(args)
            assert result.returncode == 2 and result.stdout == "", result.describe()
            assert str(config) in result.stderr and "cannot read the config" in result.stderr
    bom = tmp_path / "bom.toml"  # Windows editors write a UTF-8 byte order mark: it is not TOML text
    bom.write_bytes(b"\xef\xbb\xbf" + GOOD_FIRST.encode())
    result = cli.run(["check", "--config", bom])
    assert result.returncode == 0 and "deny-todo-api" in result.stdout, result.describe()
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[[rules]]")
    result = cli.run(["check", "--config", binary])
    assert result.returncode == 2 and "not UTF-8" in result.stderr


# -- a plugin that fails to import ------------------------------------------------------------

NEEDS_BROKEN = GOOD_FIRST + '[[rules]]\nname = "uses-broken"\ntype = "broken-type"\n'


@pytest.fixture
def broken_site(tmp_path) -> Path:
    return site_dist(tmp_path / "site", "authrules-broken", "authrules_broken_plugin", BROKEN_PLUGIN,
                     entry_point="broken", version="0.9.1")


def test_a_needed_plugin_that_fails_to_import_names_plugin_and_cause(tmp_path, broken_site, request_file):
    config = tmp_path / "rules.toml"
    config.write_text(NEEDS_BROKEN)
    env = cli.clean_env(PYTHONPATH=str(broken_site))
    for args in (["check", "--config", config], ["eval", "--config", config, request_file]):
        result = cli.run(args, env=env)
        assert result.returncode == 2 and result.stdout == "", result.describe()
        _check_message(result.stderr, config, ["uses-broken", "broken-type", "'broken'", "authrules-broken 0.9.1",
                                               "ModuleNotFoundError", "authrules_no_such_dependency"], SECOND_LINE)


def test_a_needed_plugin_that_fails_to_import_in_process(tmp_path, broken_site, monkeypatch):
    monkeypatch.syspath_prepend(str(broken_site))
    config = tmp_path / "rules.toml"
    config.write_text(NEEDS_BROKEN)
    with pytest.raises(PluginError) as caught:
        Runner.from_toml(config, logger=capturing_logger()[0])
    assert "authrules_no_such_dependency" in str(caught.value) and caught.value.rule == "'uses-broken'"


def test_a_typo_beside_a_plugin_that_failed_is_called_unknown_and_names_the_failure(tmp_path, broken_site):
    config = tmp_path / "rules.toml"
    config.write_text(second('name = "deny-client"\ntype = "client-denyy"\n'))
    result = cli.run(["check", "--config", config], env=cli.clean_env(PYTHONPATH=str(broken_site)))
    assert result.returncode == 2, result.describe()
    _check_message(result.stderr, config, ["deny-client", "unknown rule type 'client-denyy' (available: "
                                           "audience-deny, client-deny)", "plugin 'broken'",
                                           "authrules_no_such_dependency"], SECOND_LINE)


def test_an_unneeded_plugin_that_fails_to_import_is_a_warning(tmp_path, broken_site, request_file, monkeypatch):
    config = tmp_path / "rules.toml"
    config.write_text(GOOD_FIRST)
    env = cli.clean_env(PYTHONPATH=str(broken_site))
    check = cli.run(["check", "--config", config, "--log-format", "json"], env=env)
    assert check.returncode == 0, check.describe()
    assert "1. deny-todo-api" in check.stdout
    (warning,) = [e for e in check.log_events() if e["event"] == "authrules.plugin_failed"]
    assert warning["level"] == "warning" and warning["plugin"] == "broken"
    assert warning["distribution"] == "authrules-broken" and "authrules_no_such_dependency" in warning["error"]
    result = cli.run(["eval", "--config", config, "--log-format", "json", request_file], env=env)
    assert result.returncode == 0 and result.decisions[0]["outcome"] == "allow", result.describe()
    # and through the API: the runner loads, the warning goes to the host's logger
    monkeypatch.syspath_prepend(str(broken_site))
    logger, events = capturing_logger()
    runner = Runner.from_toml(config, logger=logger)
    assert [s.name for s in runner.steps] == ["deny-todo-api"]
    assert [e["plugin"] for e in events.named("authrules.plugin_failed")] == ["broken"]


# -- a plugin whose settings schema itself is broken ---------------------------------------------

ODD_SCHEMAS = """\
    from __future__ import annotations

    from dataclasses import dataclass
    from typing import TYPE_CHECKING

    from authrules import RuleType, hookimpl

    if TYPE_CHECKING:
        from somewhere_else import Thing


    @dataclass(frozen=True)
    class Unresolvable:
        thing: Thing | None = None


    @dataclass(frozen=True)
    class Raises:
        value: str = "x"

        def __post_init__(self):
            raise KeyError("boom")


    @hookimpl
    def authrules_rule_types():
        return [RuleType("unresolvable", lambda request, settings: None, Unresolvable),
                RuleType("raises", lambda request, settings: None, Raises)]
    """


@pytest.mark.parametrize("rule_type,fragments", [
    ("unresolvable", ["NameError", "Thing"]),
    ("raises", ["KeyError", "boom"]),
])
def test_a_settings_schema_that_fails_is_a_config_error_not_a_crash(tmp_path, request_file, rule_type, fragments):
    """Once a traceback and exit 1, which `eval` uses for "denied": now exit 2 naming rule, type and cause."""
    site = site_dist(tmp_path / "site", "authrules-odd", "authrules_odd_schemas", ODD_SCHEMAS, entry_point="odd")
    config = tmp_path / "rules.toml"
    config.write_text(second(f'name = "odd-rule"\ntype = "{rule_type}"\n'))
    env = cli.clean_env(PYTHONPATH=str(site))
    for args in (["check", "--config", config], ["eval", "--config", config, request_file]):
        result = cli.run(args, env=env)
        assert result.returncode == 2 and result.stdout == "", result.describe()
        assert "Traceback" not in result.stderr
        _check_message(result.stderr, config, ["odd-rule", rule_type, *fragments], SECOND_LINE)


def test_the_line_is_right_when_a_multiline_string_holds_a_rules_header(tmp_path, request_file):
    """A '[[rules]]' inside a multi-line string was counted as a rule, so errors named the wrong line."""
    config = tmp_path / "rules.toml"
    text = ('[[rules]]\nname = "a"\ntype = "audience-deny"\ndescription = """\nnotes:\n'
            '[[rules]] run in order\n"""\n[rules.settings]\ndeny_missing = true\n\n'
            "[[rules]]\nname = 'b'\ntype = 'nope'\ndescription = \'\'\'\n[[rules]]\'\'\'\n\n"
            '[[rules]]\nname = "c"\ntype = "client-denyy"\n')

    def header_of(name_line: str, body: str) -> int:
        return body.splitlines().index(name_line)  # the [[rules]] line just above, counted from 1

    config.write_text(text)
    result = cli.run(["check", "--config", config])
    assert result.returncode == 2, result.describe()
    line_b = header_of("name = 'b'", text)
    assert f"{config}:{line_b}: rule 'b'" in result.stderr, result.describe()
    text = text.replace("type = 'nope'", "type = 'audience-deny'\nsettings = {deny_missing = true}")
    config.write_text(text)
    result = cli.run(["check", "--config", config])
    assert result.returncode == 2, result.describe()
    line_c = header_of('name = "c"', text)
    assert f"{config}:{line_c}: rule 'c'" in result.stderr, result.describe()


def test_rules_written_as_an_inline_array_name_no_wrong_line(tmp_path):
    config = tmp_path / "rules.toml"
    config.write_text('rules = [\n  {name = "a", type = "audience-deny", settings = {deny_missing = true}},\n'
                      '  {name = "b", type = "nope"},\n]\n')
    result = cli.run(["check", "--config", config])
    assert result.returncode == 2 and f"{config}: rule 'b': unknown rule type 'nope'" in result.stderr
