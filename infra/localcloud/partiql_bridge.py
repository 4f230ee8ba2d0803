"""PartiQL INSERTs in BatchExecuteStatement answered as DynamoDB answers them (pinned to the
moto version in pyproject, like the other moto patches).

DynamoDB runs `INSERT INTO "table" VALUE {'pk': ?, ...}` as a put on condition that the key
is new: an existing key fails that statement with `DuplicateItem` (BatchStatementError) and
leaves the item as it was. moto 5.2.5 does not: its py-partiql-parser (0.6.3) cannot read an
INSERT's `?` parameters, an INSERT on an existing key overwrites it, and every statement is
run against a copy of every table (a scan of the whole database per statement).

The ingest path stores a batch with such INSERTs (nurture.adapters.bulk.insert_new), so a
batch of statements that are all parameterised INSERTs is answered here: each is moto's own
`put_item` on condition `attribute_not_exists(<hash key>)`, so stream records, the "a put
that changes nothing writes no record" fix and table checks stay moto's; a failed condition
is `DuplicateItem`, an unknown table `ResourceNotFound`. Any other batch goes to moto as
before. This is a fidelity fix, not a speed bridge: `moto_as_shipped()` keeps it.
"""

from __future__ import annotations

import re
from typing import Any

_INSERT = re.compile(
    r'^\s*INSERT\s+INTO\s+"?(?P<table>[A-Za-z0-9_.-]+)"?\s+VALUE\s+\{(?P<fields>.*)\}\s*;?\s*$',
    re.IGNORECASE | re.DOTALL,
)
_FIELD = re.compile(r"^\s*'(?P<name>[^']+)'\s*:\s*\?\s*$")
DUPLICATE = {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"}


def parsed_insert(
    statement: str, parameters: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]] | None:
    """(table, item) of an INSERT whose values are all `?` parameters; None for any other
    statement (left to moto)."""
    match = _INSERT.match(statement)
    if match is None:
        return None
    names = []
    for part in match["fields"].split(","):
        field = _FIELD.match(part)
        if field is None:
            return None  # a literal value: moto's parser
        names.append(field["name"])
    if len(names) != len(parameters) or len(set(names)) != len(names):
        return None  # moto answers the mismatch as it does
    return match["table"], dict(zip(names, parameters, strict=True))


def _insert(backend: Any, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    from moto.dynamodb.exceptions import ConditionalCheckFailed, DynamodbException

    table = backend.tables.get(table_name)
    if table is None:
        return {"Error": {"Code": "ResourceNotFound", "Message": "Requested resource not found"}}
    try:
        backend.put_item(
            table_name,
            item,
            condition_expression="attribute_not_exists(#key)",
            expression_attribute_names={"#key": table.hash_key_attr},
        )
    except ConditionalCheckFailed:
        return {"Error": dict(DUPLICATE)}
    except DynamodbException as exc:  # a key of the wrong type, a missing key...
        return {"Error": {"Code": "ValidationError", "Message": exc.message}}
    return {"TableName": table_name}


def install_partiql_inserts() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_nurture_partiql_inserts", False):
        return
    original = DynamoDBBackend.batch_execute_statement

    def batch_execute_statement(self: Any, statements: list[dict[str, Any]]) -> Any:
        inserts = []
        for statement in statements:
            insert = parsed_insert(statement["Statement"], statement.get("Parameters") or [])
            if insert is None:
                return original(self, statements)
            inserts.append(insert)
        return [_insert(self, table, item) for table, item in inserts]

    DynamoDBBackend.batch_execute_statement = batch_execute_statement  # type: ignore[method-assign]
    DynamoDBBackend._nurture_partiql_inserts = True  # type: ignore[attr-defined]
