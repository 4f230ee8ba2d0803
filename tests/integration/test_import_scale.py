"""100,000 rows through the import's production code (nurture.imports, the DynamoDB
adapter, a real botocore client) with only the network stubbed (bench/dynamo_stub.py):
every row accounted for, every valid row a contact with its identity item and one
`contact.imported` activity, the rejected rows in the report, bulk writes only.
bench/import_contacts.py prints the time and peak memory of the same import."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from dynamo_stub import Dynamo, client  # noqa: E402
from import_contacts import MAPPING, NO_CHECK, NOW, write_csv  # noqa: E402

from localcloud.commands.import_contacts import import_file  # noqa: E402
from nurture.adapters.imports import DynamoImports  # noqa: E402
from nurture.imports.mapping import parse_mapping  # noqa: E402

pytestmark = pytest.mark.integration
ROWS = 100_000


def test_one_hundred_thousand_rows(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    write_csv(path, ROWS)
    dynamo = Dynamo()
    dynamo.metering = False
    store = DynamoImports(client(dynamo, NO_CHECK), "contacts", "activities", "state")
    report = io.StringIO()
    totals = import_file(store, path, parse_mapping(MAPPING), NOW, report)

    rejected = list(csv.reader(io.StringIO(report.getvalue())))[1:]
    assert totals.rows == ROWS
    assert totals.rejected == ROWS // 50 == len({r[0] for r in rejected})
    assert totals.imported == totals.created == ROWS - ROWS // 50
    tables: dict[str, int] = {}
    for (table, _pk), items in dynamo.partitions.items():
        tables[table] = tables.get(table, 0) + len(items)
    # a profile and an identity item per contact, one activity each; nothing in the state table
    assert tables == {"contacts": 2 * totals.created, "activities": totals.created}
    # contacts and identities 25 a BatchWriteItem; activities 25 INSERTs a BatchExecuteStatement
    assert dynamo.calls["BatchWriteItem"] >= 2 * totals.created / 25
    assert dynamo.calls["BatchExecuteStatement"] >= totals.created / 25
    assert "TransactWriteItems" not in dynamo.calls  # bulk, no transaction per row
