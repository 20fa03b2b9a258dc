"""Plugin discovery: two providers of one rule type, in-process registration, entry-point metadata.

Blocking and the autoload switch are CLI-facing and live in test_cli.py; a
plugin that fails to import is in test_config_errors.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli
from helpers.logs import capturing_logger
from helpers.paths import DEFAULT_RULES
from helpers.plugins import clash_plugin, passing, site_dist, types_plugin
from helpers.wire import get

from authrules import PluginError, Request, Runner


@pytest.fixture
def clash_site(tmp_path) -> Path:
    """An installed distribution whose plugin also offers 'client-deny' (clashing with the first-party one)."""
    return site_dist(tmp_path / "site", "acme-authrules-rules", "acme_authrules_rules", clash_plugin("client-deny"),
                     entry_point="acme-rules", version="3.1.4")


def test_two_entry_point_plugins_with_one_rule_type_name_is_an_error_naming_both(clash_site, tmp_path):
    env = cli.clean_env(PYTHONPATH=str(clash_site))
    request = tmp_path / "r.http"
    request.write_bytes(get("/authorize?client_id=x&audience=https%3A%2F%2Fa.example"))
    for args in (["check", "--config", DEFAULT_RULES], ["eval", "--config", DEFAULT_RULES, request]):
        result = cli.run(args, env=env)
        assert result.returncode == 2 and result.stdout == "", result.describe()
        for fragment in ("rule type 'client-deny' is provided twice", "plugin 'client-deny'",
                         "authrules-client-deny 0.1.0", "plugin 'acme-rules'", "acme-authrules-rules 3.1.4"):
            assert fragment in result.stderr, (fragment, result.stderr)
    listing = cli.run(["plugins"], env=env)
    assert listing.returncode == 2 and "acme-rules" in listing.stdout and "provided twice" in listing.stderr


def test_the_clash_names_the_config_being_loaded_and_plugins_still_lists_each_plugins_types(clash_site, tmp_path):
    result = cli.run(["check", "--config", DEFAULT_RULES], env=cli.clean_env(PYTHONPATH=str(clash_site)))
    assert f"{DEFAULT_RULES}: rule type 'client-deny' is provided twice" in result.stderr, result.describe()
    listing = cli.run(["plugins"], env=cli.clean_env(PYTHONPATH=str(clash_site)))
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert "rule types: audience-deny" in rows["audience-deny"] and "rule types: client-deny" in rows["acme-rules"]


def test_one_plugin_offering_a_name_twice_is_named_once():
    twice = types_plugin(("dupe", passing, None), ("dupe", passing, None))
    with pytest.raises(PluginError) as caught:
        Runner.from_dict({"rules": [{"name": "r", "type": "dupe"}]}, logger=capturing_logger()[0],
                         plugins=[(twice, "selfclash")], autoload=False)
    assert "rule type 'dupe' is provided twice by plugin 'selfclash' (in-process)" in str(caught.value)
    assert "<config>: " in str(caught.value)  # a config given in-process


def test_the_clash_is_an_error_even_when_no_rule_uses_the_type(clash_site, tmp_path):
    config = tmp_path / "rules.toml"
    config.write_text('[[rules]]\nname = "a"\ntype = "audience-deny"\n[rules.settings]\ndeny_missing = true\n')
    result = cli.run(["check", "--config", config], env=cli.clean_env(PYTHONPATH=str(clash_site)))
    assert result.returncode == 2 and "provided twice" in result.stderr, result.describe()


def test_an_in_process_plugin_clashing_with_an_installed_one_names_both():
    clash = types_plugin(("audience-deny", passing, None))
    with pytest.raises(PluginError) as caught:
        Runner.from_toml(DEFAULT_RULES, logger=capturing_logger()[0], plugins=[(clash, "host-rules")])
    message = str(caught.value)
    assert "'audience-deny' is provided twice" in message
    assert "plugin 'audience-deny' (authrules-audience-deny 0.1.0)" in message
    assert "plugin 'host-rules' (in-process)" in message


def test_two_in_process_plugins_clashing_name_both():
    one = types_plugin(("shared-name", passing, None))
    two = types_plugin(("shared-name", passing, None))
    with pytest.raises(PluginError) as caught:
        Runner.from_dict({"rules": [{"name": "r", "type": "shared-name"}]}, logger=capturing_logger()[0],
                         plugins=[(one, "first-host-plugin"), (two, "second-host-plugin")], autoload=False)
    assert "first-host-plugin" in str(caught.value) and "second-host-plugin" in str(caught.value)


def test_registering_the_same_name_twice_is_refused():
    one = types_plugin(("t1", passing, None))
    two = types_plugin(("t2", passing, None))
    with pytest.raises(PluginError, match="same-name"):
        Runner.from_dict({"rules": [{"name": "r", "type": "t1"}]}, logger=capturing_logger()[0],
                         plugins=[(one, "same-name"), (two, "same-name")], autoload=False)


def test_in_process_plugins_need_no_entry_point_and_mix_with_installed_ones():
    narrow = types_plugin(("host-pass", passing, None))
    logger, events = capturing_logger()
    runner = Runner.from_dict({"rules": [{"name": "host", "type": "host-pass"},
                                         {"name": "deny-client", "type": "client-deny",
                                          "settings": {"clients": ["CLIENT_ID"]}}]},
                              logger=logger, plugins=[(narrow, "host-plugin")])
    assert [(s.name, s.provider) for s in runner.steps] == [("host", "host-plugin"), ("deny-client", "client-deny")]
    decision = runner.evaluate(Request.from_http(get("/authorize?client_id=CLIENT_ID&audience=x")))
    assert decision.rule == "deny-client" and events.rule_order() == ["host", "deny-client"]
    infos = {i.name: i for i in runner.plugins}
    assert infos["host-plugin"].source == "in-process" and infos["host-plugin"].rule_types == ("host-pass",)
    assert infos["client-deny"].distribution == "authrules-client-deny"


def test_autoload_off_in_process_loads_only_what_is_named():
    logger, _ = capturing_logger()
    runner = Runner.from_dict({"rules": [{"name": "a", "type": "audience-deny",
                                          "settings": {"deny_missing": True}}]},
                              logger=logger, autoload=False, load=["audience-deny"])
    status = {i.name: i.status for i in runner.plugins}
    assert status["audience-deny"] == "loaded" and status["client-deny"] == "autoload-disabled"


# -- one plugin name, two plugins ----------------------------------------------------------------


def _named_plugin(type_name: str, marker: str) -> str:
    return f"""\
    import os
    from pathlib import Path

    from authrules import RuleType, hookimpl

    Path(os.environ["AUTHRULES_TEST_MARKER_DIR"], {marker!r}).write_text("imported")


    @hookimpl
    def authrules_rule_types():
        return [RuleType({type_name!r}, lambda request, settings: None)]
    """


@pytest.fixture
def same_name_site(tmp_path) -> Path:
    site = tmp_path / "site"
    site_dist(site, "dist-one", "same_name_one", _named_plugin("type-one", "one"), entry_point="same-name")
    site_dist(site, "dist-two", "same_name_two", _named_plugin("type-two", "two"), entry_point="same-name",
              version="2.0.0")
    return site


def test_two_distributions_with_one_entry_point_name_load_neither_and_name_both(same_name_site, tmp_path):
    """The second registration failed, and the cleanup unregistered the first: it vanished unnamed."""
    marks = tmp_path / "marks"
    marks.mkdir()
    env = cli.clean_env(PYTHONPATH=str(same_name_site), AUTHRULES_TEST_MARKER_DIR=str(marks))
    listing = cli.run(["plugins"], env=env)
    assert listing.returncode == 0, listing.describe()
    rows = [line for line in listing.stdout.splitlines() if line.startswith("same-name ")]
    assert len(rows) == 2 and all(" failed " in row for row in rows), listing.stdout
    assert any("(dist-one 1.0.0)" in row for row in rows) and any("(dist-two 2.0.0)" in row for row in rows)
    assert all("dist-one 1.0.0" in row and "dist-two 2.0.0" in row for row in rows)  # each names both
    assert list(marks.iterdir()) == []  # decided before import: neither module ran
    config = tmp_path / "rules.toml"
    config.write_text('[[rules]]\nname = "r"\ntype = "type-one"\n')
    needed = cli.run(["check", "--config", config], env=env)
    assert needed.returncode == 2 and "dist-one 1.0.0" in needed.stderr and "dist-two 2.0.0" in needed.stderr
    unneeded = cli.run(["check", "--config", DEFAULT_RULES], env=env)
    assert unneeded.returncode == 0, unneeded.describe()


def test_blocking_one_of_two_same_named_plugins_loads_the_other(same_name_site, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    env = cli.clean_env(PYTHONPATH=str(same_name_site), AUTHRULES_TEST_MARKER_DIR=str(marks))
    config = tmp_path / "rules.toml"
    config.write_text('[[rules]]\nname = "r"\ntype = "type-two"\n')
    result = cli.run(["check", "--config", config, "-p", "no:dist-one"], env=env)
    assert result.returncode == 0, result.describe()
    assert [p.name for p in marks.iterdir()] == ["two"]


def test_an_entry_point_named_like_an_in_process_plugin_does_not_remove_it():
    """Registering the entry point failed, and the cleanup unregistered the host's own plugin."""
    host = types_plugin(("host-type", passing, None))
    logger, events = capturing_logger()
    runner = Runner.from_dict({"rules": [{"name": "r", "type": "host-type"}]}, logger=logger,
                              plugins=[(host, "client-deny")])
    assert [(s.name, s.provider) for s in runner.steps] == [("r", "client-deny")]
    failed = [i for i in runner.plugins if i.status == "failed"]
    assert [(i.distribution, i.status) for i in failed] == [("authrules-client-deny", "failed")]
    assert "in-process" in failed[0].error and "'client-deny'" in failed[0].error
    (own,) = [i for i in runner.plugins if i.source == "in-process"]
    assert (own.name, own.status, own.rule_types) == ("client-deny", "loaded", ("host-type",))
    assert [e["plugin"] for e in events.named("authrules.plugin_failed")] == ["client-deny"]
