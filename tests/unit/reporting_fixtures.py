"""Small activity histories for the report tests, written through the real lake writer and
read back by DuckDB: every figure the tests expect was worked out by hand from these."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from nurture.reporting.duckdb_engine import DuckDbEngine, copy_lake
from nurture.reporting.lake import write_batch
from nurture.reporting.ports import MemoryLake
from nurture.tracking.events import Activity

_seq = itertools.count(1000)


def act(
    when: str,
    name: str,
    *,
    actor: str | None = None,
    contact: str | None = None,
    kind: str | None = None,
    props: dict[str, Any] | None = None,
    page: dict[str, Any] | None = None,
    mid: str | None = None,
) -> Activity:
    """An activity at `when` ('2026-01-05 09:00'); contact activity is stored under
    contact:<id> like the runtime's own records."""
    iso = when.replace(" ", "T") + ":00.000Z"
    number = next(_seq)
    return Activity(
        actor=actor or f"contact:{contact}",
        message_id=mid or f"m{number}",
        kind=kind or name.split(".")[0],
        name=name,
        occurred_at=iso,
        received_at=iso,
        contact_id=contact,
        properties=props or {},
        page=page or {},
    )


def lake_of(activities: list[Activity], batch: int = 3) -> MemoryLake:
    """Write the activities as the lake function would, `batch` per stream batch."""
    lake = MemoryLake()
    items = [(f"{next(_seq):021d}", f"{a.actor}#{a.sort_key}", a) for a in activities]
    for i in range(0, len(items), batch):
        write_batch(lake, items[i : i + batch])
    return lake


def engine_of(lake: MemoryLake, root: Path) -> DuckDbEngine:
    copy_lake(lake, root)
    return DuckDbEngine(root)
