"""Plugin trust: only the distributions ``[plugins] allow`` names are ever imported.

Everything runs in the fault venv (tests/_fault_env.py), where the fault
plugins are pip-installed for real. ``authrules-fault-marker`` and
``authrules-fault-impostor`` append their module name to
``$AUTHRULES_FAULT_IMPORT_LOG`` when imported, so "never imported" is checked
by a file that stays empty, not by trusting authrules' own report. The
impostor's entry point is named ``authrules-fault-raise``: the name of another,
allowed distribution.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _fault_env import fault_env

RULES = """
[[rules]]
name = "deny-client"
type = "client-deny"
[rules.settings]
clients = ["CLIENT_ID"]
"""
REQUEST = b"GET /authorize?client_id=c1&audience=https%3A%2F%2Fa.example HTTP/1.1\r\nHost: a\r\n\r\n"
TRACED = {"fault-marker": "authrules_fault_marker", "authrules-fault-raise": "authrules_fault_impostor"}


@pytest.fixture
def env(tmp_path_factory):
    return fault_env(tmp_path_factory)


def setup(tmp_path: Path, plugins: str, rules: str = RULES) -> tuple[Path, dict[str, str], Path]:
    config = tmp_path / "rules.toml"
    config.write_text(plugins + "\n" + rules)
    trace = tmp_path / "imports.txt"
    trace.write_text("")
    request = tmp_path / "request.http"
    request.write_bytes(REQUEST)
    return config, {"AUTHRULES_FAULT_IMPORT_LOG": str(trace)}, request


def imported(trace: Path) -> set[str]:
    return set(trace.read_text().split())


def plugin_rows(proc) -> dict[str, dict]:
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return {row["name"]: row for row in map(json.loads, proc.stdout.decode().splitlines())}


ALLOW = '[plugins]\nallow = ["authrules-client-deny", "authrules-fault-raise"]\n'


def test_only_allowed_distributions_are_imported(env, tmp_path):
    config, extra, request = setup(tmp_path, ALLOW)
    trace = Path(extra["AUTHRULES_FAULT_IMPORT_LOG"])
    for args in (["eval", str(request)], ["check"], ["plugins", "--json"], ["plugins"]):
        proc = env.authrules(*args, "--config", str(config), env=extra)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert imported(trace) == set(), "a plugin outside the allowlist was imported"
    rows = plugin_rows(env.authrules("plugins", "--json", "--config", str(config), env=extra))
    assert rows["client-deny"]["status"] == "loaded"
    assert rows["fault-raise"]["status"] == "loaded"  # allowed by its distribution's name
    for name in ("fault-marker", "fault-garbage", "fault-slow", "audience-deny"):
        assert rows[name]["status"] == "not-allowed" and rows[name]["rule_types"] == []
    # The impostor's entry point carries an allowed distribution's name; its distribution is not allowed.
    assert rows["authrules-fault-raise"]["distribution"] == "authrules-fault-impostor"
    assert rows["authrules-fault-raise"]["status"] == "not-allowed"


def test_authrules_plugins_says_what_was_skipped_and_why(env, tmp_path):
    config, extra, _ = setup(tmp_path, '[plugins]\nallow = ["authrules-client-deny", "authrules-fault-marker"]\n'
                                       'block = ["authrules-fault-marker", "fault-slow"]\n')
    proc = env.authrules("plugins", "--config", str(config), env=extra)
    assert proc.returncode == 0
    lines = {line.split()[0]: line for line in proc.stdout.decode().splitlines()}
    assert "not-allowed" in lines["fault-garbage"] and "not in [plugins] allow" in lines["fault-garbage"]
    assert "blocked" in lines["fault-marker"] and "[plugins] block" in lines["fault-marker"]  # block beats allow
    assert "blocked" in lines["fault-slow"]
    assert "loaded" in lines["client-deny"]
    assert imported(Path(extra["AUTHRULES_FAULT_IMPORT_LOG"])) == set()


def test_a_rule_whose_plugin_is_not_allowed_is_a_config_error_that_says_so(env, tmp_path):
    rules = RULES + '\n[[rules]]\nname = "marker"\ntype = "fault-marker"\n'
    config, extra, request = setup(tmp_path, ALLOW, rules)
    proc = env.authrules("eval", "--config", str(config), str(request), env=extra)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "rule 'marker'" in err and "fault-marker" in err and "not in [plugins] allow" in err
    assert imported(Path(extra["AUTHRULES_FAULT_IMPORT_LOG"])) == set()


@pytest.mark.parametrize("how", ["toml", "cli", "env"])
def test_the_blocklist_stops_a_plugin_before_import(env, tmp_path, how):
    plugins = '[plugins]\nblock = ["authrules-fault-marker", "authrules-fault-raise"]\n' if how == "toml" else ""
    config, extra, request = setup(tmp_path, plugins)
    args = ["-p", "no:authrules-fault-marker", "-p", "no:authrules-fault-raise"] if how == "cli" else []
    if how == "env":
        extra["AUTHRULES_BLOCK_PLUGINS"] = "authrules-fault-marker, authrules-fault-raise"
    proc = env.authrules("eval", "--config", str(config), *args, str(request), env=extra)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert imported(Path(extra["AUTHRULES_FAULT_IMPORT_LOG"])) == set()
    rows = plugin_rows(env.authrules("plugins", "--json", "--config", str(config), *args, env=extra))
    assert rows["fault-marker"]["status"] == "blocked"
    assert rows["authrules-fault-raise"]["status"] == "blocked"  # blocked by its entry point's name


def test_without_a_policy_every_plugin_is_imported(env, tmp_path):
    """The control: the trace file does record imports, so the tests above can fail."""
    config, extra, request = setup(tmp_path, "")
    proc = env.authrules("eval", "--config", str(config), str(request), env=extra)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert imported(Path(extra["AUTHRULES_FAULT_IMPORT_LOG"])) == set(TRACED.values())


def test_disabling_autoload_imports_nothing_but_what_is_named(env, tmp_path):
    config, extra, request = setup(tmp_path, "")
    proc = env.authrules("eval", "--config", str(config), "--no-autoload", "-p", "client-deny", str(request),
                         env=extra)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert imported(Path(extra["AUTHRULES_FAULT_IMPORT_LOG"])) == set()
