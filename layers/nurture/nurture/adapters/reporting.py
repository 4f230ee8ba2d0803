"""Reporting adapters: Athena as the SQL engine at scale, the program catalog (S3 files and
the state table), and automatic A/B decisions in the state table."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from nurture.adapters.dynamodb import DynamoState
from nurture.reporting.ports import ProgramInfo

ATHENA_POLL_SECONDS = 0.5


class AthenaEngine:
    """Runs a report on Athena (workgroup with its result location) over the Glue table
    `activities` of `database`. Rows come back as strings; numbers are converted by type."""

    dialect: Literal["duckdb", "athena"] = "athena"

    def __init__(self, client: Any, workgroup: str, database: str, timeout_seconds: float = 25):
        self._athena = client
        self._workgroup = workgroup
        self._database = database
        self._timeout = timeout_seconds

    def query(self, sql: str) -> list[dict[str, Any]]:
        started = self._athena.start_query_execution(
            QueryString=sql,
            WorkGroup=self._workgroup,
            QueryExecutionContext={"Database": self._database},
        )
        qid = started["QueryExecutionId"]
        deadline = time.monotonic() + self._timeout
        while True:
            state = self._athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"][
                "Status"
            ]
            if state["State"] == "SUCCEEDED":
                break
            if state["State"] in ("FAILED", "CANCELLED"):
                raise RuntimeError(
                    f"Athena query {state['State']}: {state.get('StateChangeReason')}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"Athena query {qid} still running")
            time.sleep(ATHENA_POLL_SECONDS)
        rows: list[dict[str, Any]] = []
        names: list[str] = []
        types: list[str] = []
        for page in self._athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
            meta = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            names, types = [c["Name"] for c in meta], [c["Type"] for c in meta]
            data = page["ResultSet"]["Rows"]
            if not rows and data and [d.get("VarCharValue") for d in data[0]["Data"]] == names:
                data = data[1:]  # the header row
            for row in data:
                values = [d.get("VarCharValue") for d in row["Data"]]
                rows.append({n: _typed(v, t) for n, v, t in zip(names, values, types, strict=True)})
        return rows


def _typed(value: str | None, kind: str) -> Any:
    if value is None:
        return None
    if kind in ("integer", "bigint", "smallint", "tinyint"):
        return int(value)
    if kind in ("double", "float", "real", "decimal"):
        return float(value)
    if kind == "boolean":
        return value == "true"
    return value


class S3ProgramCatalog:
    """Programs are the `programs/<id>.yaml` files (last edited: the object's time) and their
    deployed record in the state table (status, version, definition)."""

    def __init__(self, s3: Any, bucket: str, state: DynamoState):
        self._s3 = s3
        self._bucket = bucket
        self._state = state

    def programs(self) -> list[ProgramInfo]:
        out = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix="programs/"
        ):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not key.endswith(".yaml") or key.count("/") != 1:
                    continue
                program_id = key.removeprefix("programs/").removesuffix(".yaml")
                edited = obj["LastModified"].isoformat(timespec="seconds").replace("+00:00", "Z")
                out.append(self._info(program_id, edited))
        return out

    def get(self, program_id: str) -> ProgramInfo | None:
        record = self._state.get_program(program_id)
        if record is None:
            return None
        return ProgramInfo(program_id, record.status, record.version, record.definition)

    def _info(self, program_id: str, edited: str) -> ProgramInfo:
        record = self._state.get_program(program_id)
        if record is None:
            return ProgramInfo(program_id, "not deployed", None, None, edited)
        return ProgramInfo(program_id, record.status, record.version, record.definition, edited)


class DynamoSplitDecisions:
    """`SPLIT#<program>#<step>` / `WINNER` in the state table, written once."""

    def __init__(self, client: Any, table: str):
        self._db = client
        self._table = table

    def _key(self, program_id: str, step_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"SPLIT#{program_id}#{step_id}"}, "sk": {"S": "WINNER"}}

    def get(self, program_id: str, step_id: str) -> dict[str, Any] | None:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(program_id, step_id), ConsistentRead=True
        ).get("Item")
        return json.loads(item["doc"]["S"]) if item else None

    def put_once(self, program_id: str, step_id: str, decision: dict[str, Any]) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={**self._key(program_id, step_id), "doc": {"S": json.dumps(decision)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def note_pending(self, program_id: str, step_id: str) -> None:
        # the same item each time: noting it again changes nothing
        self._db.put_item(
            TableName=self._table,
            Item={"pk": {"S": "SPLIT#PENDING"}, "sk": {"S": f"{program_id}#{step_id}"}},
        )

    def pending(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "SPLIT#PENDING"}},
        }
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                program_id, _, step_id = item["sk"]["S"].partition("#")
                out.append((program_id, step_id))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget_pending(self, program_id: str, step_id: str) -> None:
        self._db.delete_item(
            TableName=self._table,
            Key={"pk": {"S": "SPLIT#PENDING"}, "sk": {"S": f"{program_id}#{step_id}"}},
        )
