"""authrules reads entry points without importing importlib.metadata; it must find exactly what that finds.

Each layout is written to temporary folders put on ``sys.path``; the answer of
``authrules._entrypoints.entry_points`` is compared with
``importlib.metadata.entry_points`` for the same group, distribution names and
versions included.
"""

from __future__ import annotations

import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from authrules import _entrypoints
from authrules._entrypoints import EntryPoint, entry_points


def _reference(group: str) -> list[EntryPoint]:
    from importlib import metadata

    return [EntryPoint(ep.name, ep.value, ep.dist.metadata["Name"] if ep.dist is not None else None,
                       ep.dist.version if ep.dist is not None else None)
            for ep in metadata.entry_points(group=group)]


def _dist(site: Path, folder: str, entry_points_txt: str | None, headers: str | None = None,
          headers_file: str = "METADATA") -> None:
    info = site / folder
    info.mkdir(parents=True)
    if headers is not None:
        (info / headers_file).write_text(headers)
    if entry_points_txt is not None:
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points_txt))


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """Make sites (folders) and put them, in order, as the whole of sys.path."""
    def make(*names: str) -> list[Path]:
        sites = [tmp_path / name for name in names]
        for site in sites:
            site.mkdir(exist_ok=True)
        monkeypatch.setattr(sys, "path", [str(s) for s in sites])
        return sites
    return make


def test_the_layouts_pip_and_setuptools_write_are_read_as_importlib_metadata_reads_them(on_path):
    first, second = on_path("first", "second")
    _dist(first, "Acme_Rules-1.2.dist-info", """\
        # a comment
        [console_scripts]
        acme = acme.cli:main

        [authrules]
          acme-rules   =   acme_rules
        other=acme_rules.extra:Plugin.nested [fast]
        ; a comment to neither, read as a name ; holding = signs
        """, "Metadata-Version: 2.1\nName: Acme-Rules\nVersion: 1.2\n\nName: not-this\n")
    _dist(first, "legacy.egg-info", "[authrules]\nlegacy = legacy_mod\n", "Name: legacy\nVersion: 0.3\n",
          headers_file="PKG-INFO")
    _dist(first, "nometa-0.1.dist-info", "[authrules]\nnometa = nometa_mod\n")
    _dist(first, "unrelated-2.0.dist-info", "[pytest11]\nx = y\n", "Name: unrelated\nVersion: 2.0\n")
    _dist(first, "noentry-1.0.dist-info", None, "Name: noentry\nVersion: 1.0\n")
    # The same distribution again, later on sys.path: shadowed, as importlib.metadata's _unique does.
    _dist(second, "acme.rules-9.9.dist-info", "[authrules]\nshadowed = nope\n", "Name: acme.rules\nVersion: 9.9\n")
    _dist(second, "late-1.0.dist-info", "[authrules]\nlate = late_mod\n", "Name: late\nVersion: 1.0\n")
    for group in ("authrules", "console_scripts", "pytest11", "absent"):
        assert sorted(entry_points(group)) == sorted(_reference(group)), group
    assert {ep.name for ep in entry_points("authrules")} == {"acme-rules", "other", "; a comment to neither, read as a name ; holding",
                                                              "legacy", "nometa", "late"}


def test_a_line_without_equals_sign_is_skipped_where_importlib_metadata_raises(on_path):
    (site,) = on_path("site")
    _dist(site, "odd-1.0.dist-info", "[authrules]\nno equals sign here\nodd = odd_mod\n", "Name: odd\nVersion: 1.0\n")
    assert entry_points("authrules") == [EntryPoint("odd", "odd_mod", "odd", "1.0")]


def test_a_zip_on_sys_path_is_left_to_importlib_metadata(on_path, tmp_path, monkeypatch):
    (site,) = on_path("site")
    _dist(site, "plain-1.0.dist-info", "[authrules]\nplain = plain_mod\n", "Name: plain\nVersion: 1.0\n")
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", "[authrules]\nzipped = zipped_mod\n")
    monkeypatch.setattr(sys, "path", [str(site), str(archive), str(tmp_path / "absent.zip")])
    assert not _entrypoints._standard_layout()
    assert sorted(entry_points("authrules")) == sorted(_reference("authrules"))
    assert {ep.name for ep in entry_points("authrules")} == {"plain", "zipped"}


def test_a_finder_that_offers_distributions_is_left_to_importlib_metadata(monkeypatch):
    class Finder:
        @staticmethod
        def find_distributions(context=None):
            return iter(())

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert not _entrypoints._standard_layout()


def test_this_environment_reads_the_same(monkeypatch):
    assert _entrypoints._standard_layout()
    for group in ("authrules", "console_scripts", "pytest11"):
        assert sorted(entry_points(group)) == sorted(_reference(group)), group


def test_load_imports_module_and_attribute_path(on_path):
    (site,) = on_path("site")
    (site / "ep_target_mod.py").write_text("class Outer:\n    class Inner:\n        pass\n")
    assert EntryPoint("x", "ep_target_mod:Outer.Inner [extra]", None, None).load().__name__ == "Inner"
    assert EntryPoint("x", "ep_target_mod", None, None).load().__name__ == "ep_target_mod"
    with pytest.raises(ValueError):
        EntryPoint("x", "not a value!", None, None).load()
