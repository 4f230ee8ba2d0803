"""DynamoDB answered in memory at botocore's `before-send` event: only the network is stubbed.

A real botocore client does everything it does in production - parameter validation,
serialisation, signing, retries, response parsing - and, where it would open a socket,
`Dynamo.before_send` answers the request from a small in-memory table instead. The answers
are what DynamoDB returns for the operations the adapters use (GetItem, PutItem, Query,
TransactWriteItems, BatchWriteItem, BatchGetItem, PartiQL INSERTs in BatchExecuteStatement),
conditions included, so a benchmark times the code production runs. It also counts what
DynamoDB would bill: write units by item size (1 KB each, doubled in a transaction) and read
units (4 KB each, halved when eventually consistent), following the sizing rules AWS
documents.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from localcloud.partiql_bridge import parsed_insert


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (strings as UTF-8,
    numbers about one byte per two digits plus one)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        if kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            size += len(raw.strip("-").lstrip("0").replace(".", "")) // 2 + 1
        elif kind == "BOOL" or kind == "NULL":
            size += 1
        else:
            size += len(json.dumps(raw))
    return size


class Dynamo:
    """Items by table and partition key, then sort key (answering costs little next to the
    code being timed). `unprocessed` makes the next BatchWriteItem calls hand back that many
    writes as UnprocessedItems (the throttling a busy table answers with)."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.calls: dict[str, int] = {}
        self.write_units = 0.0
        self.read_units = 0.0
        self.unprocessed = 0
        self.metering = True  # off while timing: sizing items is the stub's work, not the code's
        # CPU seconds spent answering (decoding requests, encoding answers): DynamoDB's side
        # of the wire, which a benchmark subtracts from the time of the code it measures.
        self.cpu = 0.0

    def reset_counts(self) -> None:
        self.calls.clear()
        self.write_units = self.read_units = 0.0

    def get(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        return self.partitions.get(key[:2], {}).get(key[2])

    def put(self, key: tuple[str, str, str], item: dict[str, Any], units: float = 1.0) -> None:
        self.partitions.setdefault(key[:2], {})[key[2]] = item
        if self.metering:
            self.write_units += units * math.ceil(item_bytes(item) / 1024)

    def count(self) -> int:
        return sum(len(p) for p in self.partitions.values())

    def _key(self, table: str, key: dict[str, Any]) -> tuple[str, str, str]:
        return table, key["pk"]["S"], key["sk"]["S"]

    def _read(self, item: dict[str, Any] | None, consistent: bool) -> None:
        if not self.metering:
            return
        size = item_bytes(item) if item else 1
        self.read_units += math.ceil(size / 4096) * (1.0 if consistent else 0.5)

    def _holds(self, request: dict[str, Any], key: tuple[str, str, str]) -> bool:
        condition = request.get("ConditionExpression")
        if not condition:
            return True
        current = self.get(key)
        if condition.startswith("attribute_not_exists"):
            return current is None or "version" in condition and "version" not in current
        match = re.fullmatch(r"(\w+) = (:\w+)", condition)
        if match and current is not None:
            values = request["ExpressionAttributeValues"]
            return current.get(match.group(1)) == values[match.group(2)]
        return False

    def answer(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        if operation == "GetItem":
            item = self.get(self._key(request["TableName"], request["Key"]))
            self._read(item, bool(request.get("ConsistentRead")))
            return 200, ({"Item": item} if item else {})
        if operation == "PutItem":
            key = self._key(request["TableName"], request["Item"])
            if not self._holds(request, key):
                self.write_units += 1
                return 400, {
                    "__type": "#ConditionalCheckFailedException",
                    "message": "failed",
                }
            self.put(key, request["Item"])
            return 200, {}
        if operation == "Query":
            pk = request["ExpressionAttributeValues"][":pk"]["S"]
            partition = self.partitions.get((request["TableName"], pk), {})
            found = [partition[sk] for sk in sorted(partition)]
            if request.get("ScanIndexForward") is False:
                found.reverse()
            found = found[: request.get("Limit", len(found))]
            for item in found:
                self._read(item, bool(request.get("ConsistentRead")))
            return 200, {"Items": found, "Count": len(found)}
        if operation == "TransactWriteItems":
            writes = [w["Put"] for w in request["TransactItems"]]
            keys = [self._key(w["TableName"], w["Item"]) for w in writes]
            reasons = [
                {"Code": "None" if self._holds(w, k) else "ConditionalCheckFailed"}
                for w, k in zip(writes, keys, strict=True)
            ]
            if any(r["Code"] != "None" for r in reasons):
                self.write_units += 2 * len(writes)
                return 400, {
                    "__type": "#TransactionCanceledException",
                    "message": "Transaction cancelled",
                    "CancellationReasons": reasons,
                }
            for w, k in zip(writes, keys, strict=True):
                self.put(k, w["Item"], units=2.0)
            return 200, {}
        if operation == "BatchWriteItem":
            return 200, self._batch_write(request["RequestItems"])
        if operation == "BatchExecuteStatement":
            return 200, {"Responses": [self._insert(s) for s in request["Statements"]]}
        if operation == "BatchGetItem":
            responses: dict[str, list[dict[str, Any]]] = {}
            for table, wanted in request["RequestItems"].items():
                consistent = bool(wanted.get("ConsistentRead"))
                found = responses.setdefault(table, [])
                names = [n.strip() for n in wanted.get("ProjectionExpression", "").split(",")]
                for key in wanted["Keys"]:
                    item = self.get(self._key(table, key))
                    self._read(item, consistent)
                    if item is not None:
                        found.append(
                            {n: item[n] for n in names if n in item} if any(names) else item
                        )
            return 200, {"Responses": responses, "UnprocessedKeys": {}}
        raise NotImplementedError(operation)

    def _batch_write(self, request_items: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        unprocessed: dict[str, list[dict[str, Any]]] = {}
        for table, writes in request_items.items():
            for write in writes:
                if self.unprocessed > 0:
                    self.unprocessed -= 1
                    unprocessed.setdefault(table, []).append(write)
                    continue
                item = write["PutRequest"]["Item"]
                self.put(self._key(table, item), item)
        return {"UnprocessedItems": unprocessed}

    def _insert(self, statement: dict[str, Any]) -> dict[str, Any]:
        """A PartiQL INSERT, as DynamoDB runs it: a put on condition that the key is new."""
        parsed = parsed_insert(statement["Statement"], statement.get("Parameters") or [])
        if parsed is None:
            raise NotImplementedError(statement["Statement"])
        table, item = parsed
        if self.unprocessed > 0:
            self.unprocessed -= 1
            return {"Error": {"Code": "ProvisionedThroughputExceeded", "Message": "throttled"}}
        key = self._key(table, item)
        if self.get(key) is not None:
            self.write_units += 1  # a failed condition is billed as a write
            return {"Error": {"Code": "DuplicateItem", "Message": "Duplicate primary key"}}
        self.put(key, item)
        return {"TableName": table}

    def before_send(self, request: Any, **_: Any) -> AWSResponse:
        started = time.process_time()
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        status, body = self.answer(operation, json.loads(request.body))
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": "bench",
        }
        answer = AWSResponse(request.url, status, headers, _Raw(json.dumps(body).encode()))
        self.cpu += time.process_time() - started
        return answer


def stub_default_session(dynamo: Dynamo) -> None:
    """Every DynamoDB client boto3's default session makes from now on (a handler module's
    own, created at import or on first use) is answered by `dynamo`."""
    boto3.setup_default_session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a dummy; the network is stubbed
        region_name="us-east-1",
    )
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-send.dynamodb", dynamo.before_send)


def client(dynamo: Dynamo, config: Config | None = None) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a dummy; the network is stubbed
        region_name="us-east-1",
    )
    made = session.client("dynamodb", config=config)
    made.meta.events.register("before-send.dynamodb", dynamo.before_send)
    return made
