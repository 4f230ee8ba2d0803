"""DuckDB, embedded: runs the report queries over lake objects on the local disk.

The lake's objects are read as they are (gzip NDJSON, hive-partitioned by dt), with the
column types of the Glue table, so DuckDB and Athena see the same `activities` table."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import duckdb

from nurture.reporting.lake import COLUMNS, LAKE_PREFIX
from nurture.reporting.ports import LakeStore

_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "double": "DOUBLE",
    "int": "INTEGER",
    "boolean": "BOOLEAN",
    "array<string>": "VARCHAR[]",
}
_EMPTY = (
    "SELECT "
    + ", ".join(f"CAST(NULL AS {_TYPES[t]}) AS {c}" for c, t in COLUMNS.items())
    + ", CAST(NULL AS VARCHAR) AS dt WHERE false"
)


class DuckDbEngine:
    """`root` holds `lake/activities/dt=.../*.json.gz` (a copy of the bucket's prefix)."""

    dialect: Literal["duckdb", "athena"] = "duckdb"

    def __init__(
        self,
        root: Path,
        threads: int | None = None,
        memory_limit: str | None = None,
        load: bool = True,
    ):
        """`load`: read the lake into DuckDB's columnar memory once, so the queries of a
        call (a funnel runs two) do not each parse the gzip JSON again; off, `activities`
        is a view that reads the files at each query."""
        self.root = Path(root)
        self.load = load
        self.db = duckdb.connect(":memory:")
        if threads:
            self.db.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.db.execute("SET memory_limit = ?", [memory_limit])
        self.refresh()

    def refresh(self) -> None:
        """(Re)define `activities` over the files now under root."""
        files = sorted((self.root / LAKE_PREFIX).glob("dt=*/*.json.gz"))
        self.db.execute("DROP VIEW IF EXISTS activities")
        self.db.execute("DROP TABLE IF EXISTS activities")
        if not files:
            self.db.execute(f"CREATE OR REPLACE VIEW activities AS {_EMPTY}")
            return
        columns = "{" + ", ".join(f"'{c}': '{_TYPES[t]}'" for c, t in COLUMNS.items()) + "}"
        listing = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
        # file names listed above, quoted; a view cannot take bound parameters
        kind = "TABLE" if self.load else "VIEW"
        view = (
            f"CREATE OR REPLACE {kind} activities AS SELECT * FROM read_json("  # noqa: S608
            f"{listing}, format = 'newline_delimited', compression = 'gzip', "
            f"columns = {columns}, hive_partitioning = true, hive_types = {{'dt': 'VARCHAR'}}, "
            "timestampformat = '%Y-%m-%d %H:%M:%S.%g')"
        )
        self.db.execute(view)

    def query(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql)
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def copy_lake(lake: LakeStore, root: Path, dt_from: str | None = None) -> int:
    """Copy the lake's objects (from day `dt_from` on) under `root`; returns how many.
    Objects already copied are skipped: their keys are per batch, and a batch is immutable
    except when an erase rewrites it (then copy into a fresh root)."""
    copied = 0
    for key in lake.list(LAKE_PREFIX):
        day = key[len(LAKE_PREFIX) :].split("/", 1)[0].removeprefix("dt=")
        if dt_from and day < dt_from:
            continue
        target = root / key
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lake.get(key))
        copied += 1
    return copied


def engine_for_lake(lake: LakeStore, dt_from: str | None = None) -> DuckDbEngine:
    """A DuckDB engine over a fresh copy of the lake (in a temporary directory)."""
    root = Path(tempfile.mkdtemp(prefix="nurture-lake-"))
    copy_lake(lake, root, dt_from)
    return DuckDbEngine(root)
