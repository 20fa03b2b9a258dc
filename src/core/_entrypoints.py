"""The entry points of one group, read the way ``importlib.metadata`` reads them, without importing it.

``importlib.metadata`` imports ``email``, ``csv``, ``zipfile`` and more: about
13 ms, a third of what ``authrules check`` adds to a bare start of Python
(docs/performance.md). For the standard layout, ``*.dist-info`` and
``*.egg-info`` folders in the directories on ``sys.path``, this reads the same
files with the same rules: ``entry_points.txt`` parsed as
``importlib.metadata.Sectioned`` parses it, one distribution per normalized
name with the first on ``sys.path`` winning (``importlib.metadata._unique``),
and the name and version from its ``METADATA`` / ``PKG-INFO`` headers. Any
other layout (a zip file or an egg on ``sys.path``, a meta path finder of a
packaging tool that offers ``find_distributions``) goes to
``importlib.metadata`` itself, so the answer is the same wherever it runs.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from importlib.machinery import PathFinder
from typing import Any, NamedTuple

__all__ = ["EntryPoint", "entry_points"]

_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class EntryPoint(NamedTuple):
    """One entry point with the distribution that declares it."""

    name: str
    value: str
    dist: str | None
    version: str | None

    def load(self) -> Any:
        """Import the module and return the object the value names (``module`` or ``module:attr``)."""
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"entry point value {self.value!r} is not 'module' or 'module:attr'")
        found = importlib.import_module(match.group("module"))
        return functools.reduce(getattr, filter(None, (match.group("attr") or "").split(".")), found)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _headers(folder: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the header block of METADATA (dist-info) or PKG-INFO (egg-info)."""
    text = _read(os.path.join(folder, "METADATA")) or _read(os.path.join(folder, "PKG-INFO")) or ""
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break  # the body (the long description) starts after the first empty line
        key, sep, value = line.partition(":")
        if sep and name is None and key.strip().lower() == "name":
            name = value.strip()
        elif sep and version is None and key.strip().lower() == "version":
            version = value.strip()
    return name, version


def _group(text: str, group: str) -> list[tuple[str, str]]:
    """``(name, value)`` pairs of ``[group]`` in an entry_points.txt (``Sectioned.section_pairs``)."""
    pairs = []
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group and "=" in line:
            name, value = (part.strip() for part in line.split("=", 1))
            pairs.append((name, value))
    return pairs


def _standard_layout() -> bool:
    """True when every distribution is a folder in a directory on sys.path, as this module reads them."""
    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and finder is not PathFinder:
            return False
    # A file on sys.path is an archive (zip, wheel, egg); a folder named *.egg holds its metadata in
    # EGG-INFO. A path that does not exist holds nothing for either reader.
    return not any(os.path.isfile(entry) or entry.lower().endswith(".egg") and os.path.isdir(entry)
                   for entry in sys.path if entry)


def _from_importlib_metadata(group: str) -> list[EntryPoint]:
    from importlib import metadata

    return [EntryPoint(ep.name, ep.value, ep.dist.metadata["Name"] if ep.dist is not None else None,
                       ep.dist.version if ep.dist is not None else None)
            for ep in metadata.entry_points(group=group)]


def entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of ``group``, in ``sys.path`` order, one distribution per name."""
    if not _standard_layout():
        return _from_importlib_metadata(group)
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            continue
        for child in children:
            low = child.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            normalized = _normalize(low.rpartition(".")[0].partition("-")[0])
            if normalized in seen:
                continue  # shadowed by a distribution of the same name earlier on sys.path
            seen.add(normalized)
            folder = os.path.join(root, child)
            text = _read(os.path.join(folder, "entry_points.txt"))
            pairs = _group(text, group) if text else []
            if pairs:
                name, version = _headers(folder)
                found.extend(EntryPoint(ep_name, value, name, version) for ep_name, value in pairs)
    return found
