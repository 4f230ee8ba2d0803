"""The admin API's program queries and graph: the lake SQL renders for DuckDB and Athena
(parsed back as Trino/Presto by sqlglot) and counts distinct runs on DuckDB over real lake
rows; the graph is the compiled state machine's states and transitions."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import pytest
import sqlglot
import yaml

from nurture.admin import programs
from nurture.programs.compiler import compile_program
from nurture.programs.model import Program

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


class Capture:
    def __init__(self, dialect: Literal["duckdb", "athena"]):
        self.dialect = dialect
        self.sql: list[str] = []

    def query(self, sql: str) -> list[dict[str, Any]]:
        self.sql.append(sql)
        return []


@pytest.mark.parametrize("name", ["counts", "recent"])
def test_the_queries_render_for_athena_and_parse_as_trino(name: str) -> None:
    engine = Capture("athena")
    params = {"dt_from": "2026-01-01", "program": "welcome", "name": "program.entered"}
    programs._query(
        engine, name, {k: v for k, v in params.items() if f":{k}" in programs._sql(name)}
    )
    [sql] = engine.sql
    assert ":" + "dt_from" not in sql and "'2026-01-01'" in sql
    for dialect in ("athena", "trino", "presto"):
        sqlglot.parse_one(sql, read=dialect)


def test_run_counts_count_distinct_runs_on_duckdb(tmp_path: Path) -> None:
    import gzip
    import json

    from nurture.reporting.duckdb_engine import DuckDbEngine

    rows = [
        {"name": "program.entered", "program_id": "p", "execution": "e1", "contact_id": "c1"},
        {"name": "program.entered", "program_id": "p", "execution": "e1", "contact_id": "c1"},
        {"name": "program.entered", "program_id": "p", "execution": "e2", "contact_id": "c2"},
        {"name": "program.entered", "program_id": "p", "execution": "e3", "contact_id": "c3"},
        {"name": "program.exited", "program_id": "p", "execution": "e1", "reason": "finished"},
        {"name": "program.exited", "program_id": "p", "execution": "e2", "reason": "stopped: x"},
        {"name": "email.sent", "program_id": "p", "execution": "e3"},
    ]
    folder = tmp_path / "lake" / "activities" / "dt=2026-03-01"
    folder.mkdir(parents=True)
    lines = [json.dumps({"ts": "2026-03-01 10:00:00.000", **r}) for r in rows]
    (folder / "a.json.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    counts = programs.run_counts(DuckDbEngine(tmp_path), date(2026, 3, 2))
    assert counts == {"p": {"running": 1, "completed": 1, "exited": 2, "entered": 3}}


def test_the_graph_is_the_compiled_machine() -> None:
    program = Program.model_validate(yaml.safe_load((ROOT / "programs/welcome.yaml").read_text()))
    states = compile_program(program, programs.STEPS_ARN).definition["States"]
    graph = programs.graph(program, {"welcome-1": 7, "welcome-2b": 3})
    assert [n["id"] for n in graph["nodes"]] == list(states)
    counts = {n["id"]: n["count"] for n in graph["nodes"]}
    assert counts["welcome-1"] == 7 and counts["welcome-2b"] == 3 and counts["welcome-2a"] == 0
    assert counts["welcome-1: wait for send window"] is None  # not a step: no count
    assert counts["done"] is None  # an end step runs no task: nothing counts who reached it
    edges = {(e["from"], e["to"]) for e in graph["edges"]}
    assert ("wait-for-click", "welcome-2a") in edges and ("wait-for-click", "welcome-2b") in edges
    for source, target in edges:
        assert source in states and target in states
