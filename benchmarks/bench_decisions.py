"""Time per decision, every engine, both logging columns, on the same request mix."""

from __future__ import annotations

import pytest

from . import common, engines
from .conftest import pedantic

CASES = [(column, name) for column in common.COLUMNS for name in engines.NAMES]


@pytest.mark.parametrize(("column", "name"), CASES, ids=[f"{c}:{n}" for c, n in CASES])
def test_decisions(benchmark, mix, sink, column, name):
    common.configure_logging(column, sink)
    engine = engines.build(name)
    benchmark.group = f"column {column}"
    pedantic(benchmark, sink, engine.round, mix, kind="decisions", column=column, engine=name,
             tuning=engine.tuning, library=engine.library)
    lines = sink.lines()  # the last round's lines: one per decision in the log column, none otherwise
    assert len(lines) == (len(mix) if column == "log" else 0), (name, column, len(lines))
