"""Plugin discovery: entry points, in-process plugins, block and allow lists.

``Plugins`` is the only code that touches pluggy. It decides what may load
before anything is imported (the autoload switch, the blocklist, the
allowlist all work on entry point and distribution names), imports the rest,
remembers every failure, and collects rule types plugin by plugin, so a
clash names both providers.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, NamedTuple

import pluggy

from ._entrypoints import EntryPoint, entry_points
from ._errors import PluginError
from ._hooks import PROJECT, HookSpecs
from ._types import RuleType

__all__ = ["Plugins", "PluginInfo", "ENTRY_POINT_GROUP", "ENV_DISABLE_AUTOLOAD", "ENV_BLOCK"]

ENTRY_POINT_GROUP = "authrules"
#: Set to any non-empty value to load no plugin from entry points (like pytest's switch).
ENV_DISABLE_AUTOLOAD = "AUTHRULES_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated entry point or distribution names never to import.
ENV_BLOCK = "AUTHRULES_BLOCK_PLUGINS"


#: Why a plugin with a skip status was not imported, as ``authrules plugins`` and config errors say it.
SKIP_REASONS = {
    "blocked": f"blocked by [plugins] block, -p no:NAME or {ENV_BLOCK}",
    "not-allowed": "its distribution is not in [plugins] allow",
    "autoload-disabled": f"autoload is off ({ENV_DISABLE_AUTOLOAD} or --no-autoload) and it is not named with -p",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PluginInfo(NamedTuple):
    """One plugin as discovery saw it.

    ``status`` is ``loaded``, ``failed`` (``error`` says why), ``blocked``,
    ``not-allowed`` (outside the allowlist) or ``autoload-disabled``.
    """

    name: str
    distribution: str | None
    version: str | None
    status: str
    source: str = "entry point"
    rule_types: tuple[str, ...] = ()
    error: str | None = None

    def describe(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else self.source
        return f"plugin {self.name!r} ({dist})"


class Plugins:
    """A typed facade over pluggy's ``PluginManager``; build one per runner."""

    def __init__(self, *, autoload: bool | None = None, block: Iterable[str] = (),
                 allow: Iterable[str] | None = None, load: Iterable[str] = ()) -> None:
        if autoload is None:
            autoload = not os.environ.get(ENV_DISABLE_AUTOLOAD)
        env_block = [b.strip() for b in os.environ.get(ENV_BLOCK, "").split(",") if b.strip()]
        self.autoload = autoload
        self.block = frozenset(_norm(b) for b in (*block, *env_block))
        self.allow = None if allow is None else frozenset(_norm(a) for a in allow)
        self.load_names = frozenset(_norm(n) for n in load)
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(HookSpecs)
        self._infos: dict[str, PluginInfo] = {}
        self._loaded = False
        self._rule_types: dict[str, tuple[RuleType, str]] | None = None

    # -- registration ------------------------------------------------------------

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin object (module, class instance) from the host, in-process."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from None
        self._infos[name] = PluginInfo(name, None, None, "loaded", source="in-process")
        self._rule_types = None

    def load_entry_points(self) -> None:
        """Import the plugins of the ``authrules`` entry point group that policy lets in."""
        if self._loaded:
            return
        self._loaded = True
        seen: set[tuple[str, str]] = set()
        named: set[str] = set()
        allowed: list[tuple[EntryPoint, str | None, str | None]] = []
        for ep in sorted(entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist, version = ep.dist, ep.version
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            names = {_norm(ep.name)} | ({_norm(dist)} if dist else set())
            named |= names
            status = None
            if names & self.block:
                status = "blocked"
            # The allowlist names distributions: an entry point's own name is chosen by whoever ships it,
            # so a rogue distribution could name its entry point after an allowed distribution.
            elif self.allow is not None and not ({_norm(dist)} if dist else names) & self.allow:
                status = "not-allowed"
            elif not self.autoload and not names & self.load_names:
                status = "autoload-disabled"
            if status is not None:  # decided before import: the module never runs
                self._infos[ep.name] = PluginInfo(ep.name, dist, version, status)
                continue
            allowed.append((ep, dist, version))
        missing = sorted(self.load_names - named - {_norm(n) for n, _ in self._pm.list_name_plugin()})
        if missing:  # like pytest's -p: a plugin asked for by name that is not there is an error, not a no-op
            raise PluginError(f"plugin {missing[0]!r} is asked for with -p but no installed distribution "
                              f"provides it in the {ENTRY_POINT_GROUP!r} entry point group")
        by_name: dict[str, list[str]] = {}
        for ep, dist, version in allowed:
            by_name.setdefault(ep.name, []).append(f"{dist} {version}" if dist else ep.value)
        for ep, dist, version in allowed:
            key = ep.name if len(by_name[ep.name]) == 1 else f"{ep.name} ({dist or ep.value})"
            if len(by_name[ep.name]) > 1:  # which one would load depends on install order: neither does
                self._infos[key] = PluginInfo(ep.name, dist, version, "failed", error=(
                    f"the plugin name {ep.name!r} is used by {' and by '.join(sorted(by_name[ep.name]))}; "
                    "plugin names must be unique, so none of them is loaded (block all but one)"))
                continue
            if self._pm.has_plugin(ep.name):  # a host registered a plugin of this name in-process
                self._infos[f"{ep.name} ({dist or ep.value})"] = PluginInfo(ep.name, dist, version, "failed", error=(
                    f"the plugin name {ep.name!r} is already taken by an in-process plugin"))
                continue
            registered = False
            try:
                plugin = ep.load()
                if self._pm.is_registered(plugin):
                    continue
                self._pm.register(plugin, name=ep.name)
                registered = True
                self._pm.check_pending()
            except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything
                if isinstance(exc, KeyboardInterrupt):
                    raise
                if registered:  # only ever undo this plugin's own registration
                    self._pm.unregister(name=ep.name)
                self._infos[key] = PluginInfo(ep.name, dist, version, "failed",
                                              error=f"{type(exc).__name__}: {exc}")
                continue
            self._infos[key] = PluginInfo(ep.name, dist, version, "loaded")
        self._rule_types = None

    # -- what plugins contribute ----------------------------------------------------

    def rule_types(self) -> dict[str, tuple[RuleType, str]]:
        """Every rule type by name, with the name of the plugin that provides it.

        Each plugin's hook is called on its own, so the provider is known; a
        plugin whose hook raises or returns something other than ``RuleType``
        objects is marked failed. Two providers of one name is a ``PluginError``.
        """
        if self._rule_types is not None:
            return self._rule_types
        found: dict[str, tuple[RuleType, str]] = {}
        clashes: list[str] = []
        for impl in self._pm.hook.authrules_rule_types.get_hookimpls():
            name = impl.plugin_name
            info = self._infos.get(name) or PluginInfo(name, None, None, "loaded", source="in-process")
            try:
                contributed = list(impl.function())
                bad = [c for c in contributed if not isinstance(c, RuleType)]
                if bad:
                    raise TypeError(f"authrules_rule_types returned {type(bad[0]).__name__}, not RuleType")
            except Exception as exc:  # noqa: BLE001
                self._infos[name] = info._replace(status="failed", error=f"{type(exc).__name__}: {exc}")
                continue
            self._infos[name] = info = info._replace(rule_types=tuple(sorted({r.name for r in contributed})))
            for rule_type in contributed:
                if rule_type.name in found:
                    other = found[rule_type.name][1]
                    clashes.append(f"rule type {rule_type.name!r} is provided twice by {info.describe()}"
                                   if other == name else f"rule type {rule_type.name!r} is provided twice: by "
                                   f"{self._infos[other].describe()} and by {info.describe()}")
                    continue
                found[rule_type.name] = (rule_type, name)
        if clashes:  # every plugin was asked first, so `authrules plugins` still lists what each offers
            raise PluginError("; ".join(clashes))
        self._rule_types = found
        return found

    def infos(self) -> list[PluginInfo]:
        """Every plugin seen, loaded or not, sorted by name."""
        return [self._infos[k] for k in sorted(self._infos)]

    def failures(self) -> list[PluginInfo]:
        return [i for i in self.infos() if i.status == "failed"]
