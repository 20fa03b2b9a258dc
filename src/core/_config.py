"""rules.toml: read, check, and turn into a ``Config`` the runner builds from.

Everything that can be checked without plugins is checked here (table layout,
key names, types, unique rule names); the settings of each rule are checked
against its rule type when the runner builds the pipeline. Every error is a
``ConfigError`` that names the file, the rule and the problem.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, NamedTuple

import tomli

from ._errors import ConfigError
from ._limits import DEFAULT_LIMITS, MAX_LIMIT, Limits

__all__ = ["Config", "RuleConfig", "load_config", "parse_config"]

_RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}")
_RULE_KEYS = {"name", "type", "enabled", "settings", "timeout_ms", "on_error", "description"}
_TOP_KEYS = {"rules", "limits", "plugins"}
_PLUGIN_KEYS = {"block", "allow"}


class RuleConfig(NamedTuple):
    """One ``[[rules]]`` entry, checked for shape but not yet against its type."""

    name: str
    type: str
    settings: dict[str, Any]  # may hold secret settings: never in the repr
    enabled: bool = True
    timeout_ms: int | None = None
    on_error: str = "deny"
    description: str = ""
    line: int | None = None

    def __repr__(self) -> str:
        return (f"RuleConfig(name={self.name!r}, type={self.type!r}, enabled={self.enabled!r}, "
                f"timeout_ms={self.timeout_ms!r}, on_error={self.on_error!r}, line={self.line!r})")


class Config(NamedTuple):
    """A checked rules.toml. (Records here are NamedTuples: cheap to define, which is start-up time.)"""

    path: str
    rules: tuple[RuleConfig, ...]
    limits: Limits = DEFAULT_LIMITS
    block: tuple[str, ...] = ()
    allow: tuple[str, ...] | None = None


def load_config(path: str | Path) -> Config:
    """Read and check a rules.toml file."""
    shown = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")  # a BOM, as Windows editors write it, is not text
    except OSError as exc:
        raise ConfigError(f"cannot read the config: {exc.strerror or exc}", path=shown) from None
    except UnicodeDecodeError:
        raise ConfigError("the config is not UTF-8 text", path=shown) from None
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        col = getattr(exc, "colno", None)
        raise ConfigError(f"TOML syntax error: {msg}" + (f" (column {col})" if col else ""),
                          path=shown, line=line) from None
    except RecursionError:  # tomli parses nested arrays and inline tables recursively
        raise ConfigError("arrays or inline tables are nested too deeply", path=shown) from None
    except ValueError:  # int() refuses over 4,300 digits; tomli lets that through as is
        raise ConfigError("a number has more digits than Python reads (4,300)", path=shown) from None
    return parse_config(data, shown, text)


_RULES_HEADER = re.compile(r"\s*\[\[\s*rules\s*\]\]")
_ML_DELIMITER = re.compile(r"\"\"\"|\'\'\'")


def _rule_lines(text: str | None, count: int) -> list[int]:
    """The line of each ``[[rules]]`` header, skipping text inside multi-line strings.

    tomli gives no positions, so this scans the text; when what it finds does
    not match the rules tomli read (rules written as an inline array), no line
    is better than a wrong one.
    """
    if not text:
        return []
    found = []
    open_delimiter: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if open_delimiter is None and _RULES_HEADER.match(line):
            found.append(number)
        pos = 0
        while True:
            if open_delimiter is None:
                match = _ML_DELIMITER.search(line.split("#", 1)[0] if "#" in line else line, pos)
                if match is None:
                    break
                open_delimiter, pos = match.group(), match.end()
            else:
                end = line.find(open_delimiter, pos)
                if end == -1:
                    break
                open_delimiter, pos = None, end + 3
    return found if len(found) == count else []


def _type_name(value: Any) -> str:
    return {str: "string", int: "integer", float: "float", bool: "boolean", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


#: The longest deadline a rule may be given: past it a request would wait longer than any client does,
#: and the thread and asyncio timeouts behind it overflow long before the integers TOML allows.
MAX_TIMEOUT_MS = 3_600_000


def parse_config(data: dict[str, Any], path: str = "<config>", text: str | None = None) -> Config:
    """Check a parsed TOML document (or the same shape built in Python)."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown top-level key {unknown[0]!r} (allowed: {', '.join(sorted(_TOP_KEYS))})",
                          path=path)
    limits = _limits(data.get("limits", {}), path)
    block, allow = _plugin_policy(data.get("plugins", {}), path)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError("no [[rules]]: an empty pipeline would allow every request", path=path)
    lines = _rule_lines(text, len(raw_rules))
    rules: list[RuleConfig] = []
    names: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        line = lines[index] if index < len(lines) else None
        label = f"#{index + 1}"
        if not isinstance(raw, dict):
            raise ConfigError("each [[rules]] entry must be a table", path=path, rule=label, line=line)
        name = raw.get("name")
        if isinstance(name, str) and _RULE_NAME.fullmatch(name):
            label = f"{name!r}"
        def fail(problem: str) -> ConfigError:
            return ConfigError(problem, path=path, rule=label, line=line)
        extra = sorted(set(raw) - _RULE_KEYS)
        if extra:
            raise fail(f"unknown key {extra[0]!r} (allowed: {', '.join(sorted(_RULE_KEYS))})")
        if "name" not in raw:
            raise fail("missing key 'name'")
        if not isinstance(name, str):
            raise fail(f"'name' must be a string, got {_type_name(name)}")
        if not _RULE_NAME.fullmatch(name):
            raise fail("'name' must be 1 to 100 letters, digits, '.', '_', ':' or '-'")
        if name in names:
            raise fail(f"duplicate rule name (also rule #{names[name] + 1})")
        names[name] = index
        expected = {"type": str, "enabled": bool, "settings": dict, "timeout_ms": int, "on_error": str,
                    "description": str}
        for key, kind in expected.items():
            if key in raw and type(raw[key]) is not kind:
                raise fail(f"{key!r} must be {_a(_type_name(kind()))}, got {_type_name(raw[key])}")
        if "type" not in raw:
            raise fail("missing key 'type'")
        if "timeout_ms" in raw and not 1 <= raw["timeout_ms"] <= MAX_TIMEOUT_MS:
            raise fail(f"'timeout_ms' must be an integer from 1 to {MAX_TIMEOUT_MS} (one hour)")
        if raw.get("on_error", "deny") not in ("deny", "skip"):
            raise fail("'on_error' must be \"deny\" or \"skip\"")
        rules.append(RuleConfig(name=name, type=raw["type"], settings=raw.get("settings", {}),
                                enabled=raw.get("enabled", True), timeout_ms=raw.get("timeout_ms"),
                                on_error=raw.get("on_error", "deny"),
                                description=raw.get("description", ""), line=line))
    return Config(path=path, rules=tuple(rules), limits=limits, block=block, allow=allow)


def _limits(raw: Any, path: str) -> Limits:
    if not isinstance(raw, dict):
        raise ConfigError("[limits] must be a table", path=path)
    known = {f.name for f in dataclasses.fields(Limits)}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"[limits]: unknown key {key!r} (allowed: {', '.join(sorted(known))})", path=path)
        if type(value) is not int or value < 1:
            raise ConfigError(f"[limits]: {key!r} must be a positive integer", path=path)
        if key == "rule_timeout_ms" and value > MAX_TIMEOUT_MS:
            raise ConfigError(f"[limits]: 'rule_timeout_ms' must be at most {MAX_TIMEOUT_MS} (one hour)", path=path)
        if value > MAX_LIMIT:
            raise ConfigError(f"[limits]: {key!r} must be at most {MAX_LIMIT}", path=path)
    return Limits(**raw) if raw else DEFAULT_LIMITS


def _plugin_policy(raw: Any, path: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    if not isinstance(raw, dict):
        raise ConfigError("[plugins] must be a table", path=path)
    for key, value in raw.items():
        if key not in _PLUGIN_KEYS:
            raise ConfigError(f"[plugins]: unknown key {key!r} (allowed: allow, block)", path=path)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"[plugins]: {key!r} must be an array of strings", path=path)
    allow = raw.get("allow")
    return tuple(raw.get("block", ())), (tuple(allow) if allow is not None else None)
