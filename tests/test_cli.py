"""The ``authrules`` command as a user runs it: eval, check, plugins, config lookup, autoload and blocking.

Every test runs .venv's real ``authrules`` in a subprocess. Blocking is proved
with a plugin whose import writes a marker file: a blocked plugin must never be
imported, so the file must never appear.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli
from helpers.paths import AUTHRULES, DEFAULT_RULES
from helpers.plugins import BROKEN_PLUGIN, MARKER_PLUGIN, site_dist
from helpers.wire import get, post

ALLOWED = get("/authorize?client_id=aB3dEfGh1JkLmNoP&audience=https%3A%2F%2Fbilling.example.com%2Fapi&scope=openid")
DENIED = get("/authorize?client_id=CLIENT_ID&audience=https%3A%2F%2Fbilling.example.com%2Fapi")
MALFORMED = post("audience=a&audience=b")


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    out = {}
    for name, raw in (("allowed", ALLOWED), ("denied", DENIED), ("malformed", MALFORMED)):
        out[name] = tmp_path / f"{name}.http"
        out[name].write_bytes(raw)
    return out


# -- eval ---------------------------------------------------------------------------------------


def test_eval_prints_one_object_per_request_with_exactly_the_issue_keys(files):
    result = cli.run(["eval", "--config", DEFAULT_RULES, files["allowed"], files["denied"], files["malformed"]])
    assert result.returncode == 1, result.describe()
    assert [json.loads(line) for line in result.stdout.splitlines()] == result.decisions
    assert [tuple(d) for d in result.decisions] == [cli.DECISION_KEYS] * 3
    allowed, denied, malformed = result.decisions
    assert allowed == {**allowed, "request": str(files["allowed"]), "outcome": "allow", "rule": None,
                       "rule_type": None, "status": 200, "error": None, "error_description": None,
                       "client_id": "aB3dEfGh1JkLmNoP", "audiences": ["https://billing.example.com/api"],
                       "scopes": ["openid"]}
    assert (denied["outcome"], denied["rule"], denied["rule_type"], denied["status"], denied["error"],
            denied["error_description"]) == ("deny", "deny-client", "client-deny", 401, "unauthorized",
                                             "end_users_not_allowed")
    assert (malformed["error"], malformed["status"], malformed["rule"]) == ("invalid_request", 400, None)


def test_eval_exit_codes(files):
    assert cli.run(["eval", "--config", DEFAULT_RULES, files["allowed"], files["allowed"]]).returncode == 0
    assert cli.run(["eval", "--config", DEFAULT_RULES, files["allowed"], files["denied"]]).returncode == 1
    assert cli.run(["eval", "--config", DEFAULT_RULES, files["malformed"]]).returncode == 1


def test_eval_reads_stdin_for_dash(files):
    result = cli.run(["eval", "--config", DEFAULT_RULES, "-"], stdin=DENIED)
    assert result.returncode == 1 and result.decisions[0]["request"] == "-"
    assert result.decisions[0]["client_id"] == "CLIENT_ID"
    mixed = cli.run(["eval", "--config", DEFAULT_RULES, files["allowed"], "-"], stdin=ALLOWED)
    assert mixed.returncode == 0 and [d["request"] for d in mixed.decisions] == [str(files["allowed"]), "-"]


@pytest.mark.parametrize("bad", ["missing", "directory"])
def test_eval_unreadable_file_exits_2_and_still_decides_the_others(files, tmp_path, bad):
    path = tmp_path / "no-such.http" if bad == "missing" else tmp_path
    result = cli.run(["eval", "--config", DEFAULT_RULES, files["allowed"], path, files["denied"]])
    assert result.returncode == 2, result.describe()
    assert [d["request"] for d in result.decisions] == [str(files["allowed"]), str(files["denied"])]
    assert f"cannot read request {path}" in result.stderr
    alone = cli.run(["eval", "--config", DEFAULT_RULES, path])
    assert alone.returncode == 2 and alone.stdout == ""


def test_eval_stdin_given_twice_is_a_usage_error(files):
    result = cli.run(["eval", "--config", DEFAULT_RULES, "-", files["allowed"], "-"], stdin=ALLOWED)
    assert result.returncode == 2 and result.stdout == "", result.describe()
    assert "'-' (stdin) may be given once" in result.stderr


def test_eval_reads_no_more_of_stdin_than_the_limits_need():
    """An endless stdin (a stuck pipe, /dev/zero) is cut at the limits and refused, not read forever."""
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([str(AUTHRULES), "eval", "--config", str(DEFAULT_RULES), "-"], stdin=zero,
                              capture_output=True, env=cli.clean_env(), timeout=60)
    assert proc.returncode == 1, proc.stderr
    decision = json.loads(proc.stdout)
    assert (decision["outcome"], decision["error"]) == ("deny", "invalid_request")


def test_eval_into_a_closed_pipe_ends_quietly(files):
    """`authrules eval many.http | head -1`: the reader leaves; no traceback, no 'Exception ignored'."""
    proc = subprocess.Popen([str(AUTHRULES), "eval", "--config", str(DEFAULT_RULES), "--log-level", "error",
                             *[str(files["allowed"])] * 20000], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cli.clean_env())
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"{")
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and stderr == b"", stderr.decode()


@pytest.mark.parametrize("args", [[], ["eval"], ["eval", "--log-format", "xml", "-"], ["frobnicate"],
                                  ["check", "--no-such-flag"]])
def test_usage_errors_exit_2(args):
    result = cli.run(args)
    assert result.returncode == 2 and result.stdout == "", result.describe()
    assert "usage" in result.stderr


def test_eval_logs_go_to_stderr_only(files):
    result = cli.run(["eval", "--config", DEFAULT_RULES, "--log-format", "json", files["denied"]])
    events = result.log_events()
    assert [e["event"] for e in events] == ["authrules.rule", "authrules.rule", "authrules.decision"]
    assert all("authrules." not in line for line in result.stdout.splitlines())
    quiet = cli.run(["eval", "--config", DEFAULT_RULES, "--log-level", "info", "--log-format", "json",
                     files["denied"]])
    assert [e["event"] for e in quiet.log_events()] == ["authrules.decision"]


# -- check --------------------------------------------------------------------------------------


def test_check_prints_the_ordered_pipeline(tmp_path):
    result = cli.run(["check", "--config", DEFAULT_RULES])
    assert result.returncode == 0, result.describe()
    lines = result.stdout.splitlines()
    assert lines[0] == f"{DEFAULT_RULES}: OK, 2 rule(s) run in this order:"
    assert lines[1].startswith("  1. deny-todo-api  [audience-deny from plugin 'audience-deny' "
                               "(authrules-audience-deny 0.1.0)")
    assert '"http://todoapi2.api"' in lines[2] and "deny_missing = true" in lines[2]
    assert lines[3].startswith("  2. deny-client  [client-deny from plugin 'client-deny' (authrules-client-deny")

    swapped = tmp_path / "rules.toml"
    text = DEFAULT_RULES.read_text()
    first, second = text.split("[[rules]]")[1:]
    swapped.write_text("[[rules]]" + second + "\n[[rules]]" + first.replace("[[rules]]", "")
                       + '\n[[rules]]\nname = "off"\ntype = "client-deny"\nenabled = false\n'
                         '[rules.settings]\nclients = ["x"]\n')
    result = cli.run(["check", "--config", swapped])
    assert result.returncode == 0, result.describe()
    numbered = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("  ") and ". " in line[:6]]
    assert numbered == ["deny-client", "deny-todo-api"]
    assert "disabled: off" in result.stdout


# -- plugins ------------------------------------------------------------------------------------


def test_plugins_lists_distribution_version_rule_types_and_load_errors(tmp_path):
    site = site_dist(tmp_path / "site", "authrules-broken", "authrules_broken_plugin", BROKEN_PLUGIN,
                     entry_point="broken", version="0.9.1")
    result = cli.run(["plugins"], env=cli.clean_env(PYTHONPATH=str(site)))
    assert result.returncode == 0, result.describe()
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert lines["audience-deny"] == ("audience-deny  (authrules-audience-deny 0.1.0)  loaded  "
                                      "rule types: audience-deny")
    assert lines["client-deny"].startswith("client-deny  (authrules-client-deny 0.1.0)  loaded")
    assert "(authrules-broken 0.9.1)  failed" in lines["broken"]
    assert "error: ModuleNotFoundError: No module named 'authrules_no_such_dependency'" in lines["broken"]
    as_json = [json.loads(line) for line in cli.run(["plugins", "--json"],
                                                     env=cli.clean_env(PYTHONPATH=str(site))).stdout.splitlines()]
    broken = next(p for p in as_json if p["name"] == "broken")
    assert (broken["distribution"], broken["version"], broken["status"]) == ("authrules-broken", "0.9.1", "failed")
    assert "authrules_no_such_dependency" in broken["error"]


# -- where the config comes from ----------------------------------------------------------------

ONLY_CLIENT = '[[rules]]\nname = "only-client"\ntype = "client-deny"\n[rules.settings]\nclients = ["CLIENT_ID"]\n'
ONLY_AUDIENCE = ('[[rules]]\nname = "only-audience"\ntype = "audience-deny"\n[rules.settings]\n'
                 'audiences = ["https://billing.example.com/api"]\n')


def test_config_defaults_to_rules_toml_in_the_working_directory(tmp_path, files):
    (tmp_path / "rules.toml").write_text(ONLY_CLIENT)
    result = cli.run(["check"], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("rules.toml: OK, 1 rule(s)"), result.describe()
    assert "1. only-client" in result.stdout
    decided = cli.run(["eval", files["denied"]], cwd=tmp_path)
    assert decided.decisions[0]["rule"] == "only-client"
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = cli.run(["check"], cwd=empty)
    assert missing.returncode == 2 and "rules.toml: cannot read the config" in missing.stderr


def test_config_from_the_environment_and_flag_precedence(tmp_path, files):
    (tmp_path / "rules.toml").write_text(ONLY_CLIENT)
    from_env = tmp_path / "env.toml"
    from_env.write_text(ONLY_AUDIENCE)
    from_flag = tmp_path / "flag.toml"
    from_flag.write_text(ONLY_CLIENT.replace("only-client", "flag-client"))
    env = cli.clean_env(AUTHRULES_CONFIG=str(from_env))
    assert "1. only-audience" in cli.run(["check"], cwd=tmp_path, env=env).stdout           # env beats ./rules.toml
    assert "1. flag-client" in cli.run(["check", "--config", from_flag], cwd=tmp_path, env=env).stdout  # flag wins
    decided = cli.run(["eval", files["denied"]], cwd=tmp_path, env=env)
    assert decided.decisions[0]["rule"] == "only-audience"


# -- autoload switch and blocklist --------------------------------------------------------------


@pytest.fixture
def marker(tmp_path) -> tuple[Path, Path]:
    """(site dir holding the marker plugin, the file its import writes)."""
    site = site_dist(tmp_path / "site", "authrules-marker", "authrules_marker_plugin", MARKER_PLUGIN,
                     entry_point="marker", version="1.0.0")
    return site, tmp_path / "imported.marker"


def marker_env(marker, **extra):
    site, flag = marker
    return cli.clean_env(PYTHONPATH=str(site), AUTHRULES_TEST_MARKER=str(flag), **extra)


def test_the_marker_plugin_is_imported_when_not_blocked(marker):
    result = cli.run(["plugins"], env=marker_env(marker))
    assert result.returncode == 0 and "marker  (authrules-marker 1.0.0)  loaded  rule types: marker-pass" in \
        result.stdout, result.describe()
    assert marker[1].read_text() == "imported"


@pytest.mark.parametrize("how", ["flag-entry-point", "flag-distribution", "env", "env-list", "env-distribution",
                                 "rules-toml"])
@pytest.mark.parametrize("command", ["plugins", "check", "eval"])
def test_a_blocked_plugin_is_never_imported(marker, tmp_path, files, how, command):
    config = tmp_path / "rules.toml"
    config.write_text(DEFAULT_RULES.read_text()
                      + ('\n[plugins]\nblock = ["marker"]\n' if how == "rules-toml" else ""))
    args = {"flag-entry-point": ["-p", "no:marker"], "flag-distribution": ["-p", "no:authrules-marker"]}.get(how, [])
    env_block = {"env": "marker", "env-list": "something-else, marker", "env-distribution": "authrules_marker"}
    env = marker_env(marker, **({"AUTHRULES_BLOCK_PLUGINS": env_block[how]} if how in env_block else {}))
    command_args = {"plugins": ["plugins"], "check": ["check"], "eval": ["eval", files["allowed"]]}[command]
    result = cli.run([*command_args, "--config", config, *args], env=env)
    assert result.returncode == 0, result.describe()
    assert not marker[1].exists(), "the blocked plugin's module was imported"
    if command == "plugins":
        assert "marker  (authrules-marker 1.0.0)  blocked" in result.stdout


def test_a_rule_needing_a_blocked_plugin_cannot_load(marker, tmp_path):
    config = tmp_path / "rules.toml"
    config.write_text('[[rules]]\nname = "m"\ntype = "marker-pass"\n')
    result = cli.run(["check", "--config", config, "-p", "no:marker"], env=marker_env(marker))
    assert result.returncode == 2 and "unknown rule type 'marker-pass'" in result.stderr, result.describe()
    assert not marker[1].exists()


@pytest.mark.parametrize("switch", ["flag", "long-flag", "env"])
def test_autoload_off_imports_no_entry_point_plugin(marker, switch):
    args = {"flag": ["--no-autoload"], "long-flag": ["--disable-plugin-autoload"]}.get(switch, [])
    env = marker_env(marker, **({"AUTHRULES_DISABLE_PLUGIN_AUTOLOAD": "1"} if switch == "env" else {}))
    listing = cli.run(["plugins", *args], env=env)
    assert listing.returncode == 0, listing.describe()
    assert all(" autoload-disabled " in line for line in listing.stdout.splitlines()), listing.stdout
    check = cli.run(["check", "--config", DEFAULT_RULES, *args], env=env)
    assert check.returncode == 2 and "unknown rule type 'audience-deny'" in check.stderr
    named = cli.run(["check", "--config", DEFAULT_RULES, *args, "-p", "audience-deny", "-p", "authrules-client-deny"],
                    env=env)
    assert named.returncode == 0 and "2. deny-client" in named.stdout, named.describe()
    assert not marker[1].exists(), "autoload is off, yet the marker plugin was imported"


@pytest.mark.parametrize("command", ["check", "eval", "plugins"])
def test_a_plugin_named_with_p_that_is_not_installed_is_an_error(command, files):
    """Like pytest's -p: naming a plugin that no distribution provides is a mistake to report, not a no-op."""
    args = [command, "--config", DEFAULT_RULES, "--no-autoload", "-p", "audience-deny", "-p", "no-such-plugin"]
    result = cli.run(args + ([files["allowed"]] if command == "eval" else []))
    assert result.returncode == 2 and result.stdout == "", result.describe()
    assert "plugin 'no-such-plugin' is asked for with -p but no installed distribution provides it" in result.stderr
    assert "<config>" not in result.stderr


def test_the_cli_runs_from_any_directory_with_python_m(tmp_path):
    result = cli.run(["check", "--config", DEFAULT_RULES], exe=[sys.executable, "-m", "authrules"], cwd=tmp_path)
    assert result.returncode == 0 and "2 rule(s)" in result.stdout, result.describe()


def test_eval_answers_a_request_whose_parameter_name_holds_a_quote(tmp_path):
    """A '"' in a parameter name once made evaluate raise, and the CLI died with a traceback."""
    path = tmp_path / "quote.http"
    path.write_bytes(post('{"a\\"b": 1}', "application/json"))
    result = cli.run(["eval", "--config", DEFAULT_RULES, path])
    assert result.returncode == 1, result.describe()
    assert result.decisions[0]["error"] == "invalid_request" and "Traceback" not in result.stderr


def test_eval_decides_a_request_with_a_huge_port(tmp_path):
    path = tmp_path / "port.http"
    path.write_bytes(get("/authorize?client_id=x&audience=http%3A%2F%2Ftodoapi2.api%3A" + "0" * 5000 + "80"))
    result = cli.run(["eval", "--config", DEFAULT_RULES, path])
    assert result.returncode == 1 and result.decisions[0]["rule_type"] == "audience-deny", result.describe()


MIXED_SET_PLUGIN = """\
    from dataclasses import dataclass

    from authrules import RuleType, hookimpl


    @dataclass(frozen=True)
    class Settings:
        values: frozenset[int | str] = frozenset()


    @hookimpl
    def authrules_rule_types():
        return [RuleType("mixed-set", lambda request, settings: None, Settings)]
    """


def test_check_prints_settings_of_any_checked_type(tmp_path):
    """A set of ints and strings made `authrules check` die sorting it (TypeError, exit 1)."""
    site = site_dist(tmp_path / "site", "authrules-mixed", "authrules_mixed_set", MIXED_SET_PLUGIN,
                     entry_point="mixed")
    config = tmp_path / "rules.toml"
    config.write_text('[[rules]]\nname = "m"\ntype = "mixed-set"\n[rules.settings]\nvalues = [3, "b", 1, "a"]\n')
    result = cli.run(["check", "--config", config], env=cli.clean_env(PYTHONPATH=str(site)))
    assert result.returncode == 0, result.describe()
    assert 'settings: { values = [1, 3, "a", "b"] }' in result.stdout
