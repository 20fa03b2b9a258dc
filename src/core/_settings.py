"""Check a rule's ``[rules.settings]`` table against its rule type's dataclass.

Unknown keys, missing required keys and wrong types are ``ConfigError``s that
name the setting. TOML arrays become the container the field declares (tuple,
frozenset, list). Nothing is coerced silently: ``"5"`` is not an int, ``1`` is
not a bool.
"""

from __future__ import annotations

import dataclasses
import types
from collections import abc
import typing
from typing import Any, Literal, Union

from ._logs import scrub, secret_values, strings_of

__all__ = ["build_settings", "is_secret_field"]


_ARRAYS = (list, tuple, set, frozenset, abc.Sequence, abc.Set)


class SettingError(Exception):
    """A setting is unknown, missing or of the wrong type; the message names it."""


def is_secret_field(f: dataclasses.Field) -> bool:  # type: ignore[type-arg]
    return bool(f.metadata.get("secret"))


def _describe(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, where: str) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        for option in args:
            if option is type(None) and value is None:
                return None
            try:
                return _convert(option, value, where)
            except SettingError:
                continue
        raise SettingError(f"{where} must be {_describe(tp)}, got {type(value).__name__}")
    if origin is Literal:
        if value in args and all(type(value) is type(a) for a in args if a == value):
            return value
        raise SettingError(f"{where} must be one of {', '.join(repr(a) for a in args)}")
    if tp is float:
        if type(value) in (int, float):
            return float(value)
        raise SettingError(f"{where} must be a number, got {type(value).__name__}")
    if tp in (str, int, bool):
        if type(value) is tp:
            return value
        raise SettingError(f"{where} must be {tp.__name__}, got {type(value).__name__}")
    if origin in _ARRAYS:
        if not isinstance(value, list):
            raise SettingError(f"{where} must be an array, got {type(value).__name__}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            item = args[0]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise SettingError(f"{where} must have {len(args)} items")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        else:
            item = args[0] if args else Any
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin in (set, frozenset, abc.Set):
            return frozenset(items)
        return items if origin is list else tuple(items)
    if origin in (dict, abc.Mapping):
        if not isinstance(value, dict):
            raise SettingError(f"{where} must be a table, got {type(value).__name__}")
        key_t, val_t = args if args else (Any, Any)
        return {_convert(key_t, k, where): _convert(val_t, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise SettingError(f"{where} must be a table, got {type(value).__name__}")
        return _build(tp, value, where + ".")
    raise SettingError(f"{where} has a type authrules cannot check: {_describe(tp)}")


def _build(schema: type, raw: dict[str, Any], prefix: str) -> Any:
    try:
        hints = typing.get_type_hints(schema)
    except Exception as exc:  # noqa: BLE001 - a plugin's annotations may fail to resolve in any way
        raise SettingError(f"the settings schema {schema.__qualname__} cannot be read: "
                           f"{type(exc).__name__}: {exc}") from None
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise SettingError(f"unknown setting {prefix}{unknown[0]!s} (known settings: {known})")
    kwargs = {}
    for name, f in fields.items():
        if name in raw:
            try:
                kwargs[name] = _convert(hints[name], raw[name], f"setting {prefix}{name}")
            except SettingError as exc:  # names a dict key, or a nested schema's check quotes a value: cut
                if not is_secret_field(f):
                    raise
                raise SettingError(scrub(str(exc), strings_of(raw[name]))) from None
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SettingError(f"missing required setting {prefix}{name}")
    try:
        return schema(**kwargs)
    except (ValueError, TypeError) as exc:  # the schema's own checks may quote a secret setting: cut it
        secrets = _secrets(fields, kwargs)
        raise SettingError(f"invalid settings: {scrub(str(exc), secrets)}") from None
    except Exception as exc:  # noqa: BLE001 - a plugin's __post_init__ may raise anything: still a config error
        secrets = _secrets(fields, kwargs)
        raise SettingError(f"invalid settings: {type(exc).__name__}: {scrub(str(exc), secrets)}") from None


def _secrets(fields: dict[str, dataclasses.Field], kwargs: dict[str, Any]) -> list[str]:  # type: ignore[type-arg]
    """What the schema's own error text must not quote: its secret fields, and the secret fields of the
    settings dataclasses nested in the others (already built, at any depth)."""
    return [s for name, f in fields.items() if name in kwargs
            for s in (strings_of(kwargs[name]) if is_secret_field(f) else secret_values(kwargs[name]))]


def build_settings(schema: type | None, raw: dict[str, Any]) -> Any:
    """The settings object for one rule, or ``SettingError`` naming the setting."""
    if schema is None:
        if raw:
            raise SettingError(f"unknown setting {sorted(raw)[0]} (this rule type takes no settings)")
        return None
    return _build(schema, raw, "")
