"""The local cloud's speed bridges (infra/localcloud/moto_speed.py) answer as moto does.

Each scenario runs twice on fresh moto state: once with the bridges, once with moto's own
code (`moto_as_shipped()`), through a real boto3 client. Everything a caller can see must be
equal: every answer or error (with the cancellation reasons of a transaction), the pages of
every query, the stored items, and the stream records in order."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.moto_speed import install_speedups, moto_as_shipped

pytestmark = pytest.mark.integration

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    install_speedups()


def _value(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kind = rng.choice(
        ["S", "N", "BOOL", "NULL", "SS", "NS", "B", "L", "M"][: 9 if depth < 2 else 7]
    )
    if kind == "S":
        return {"S": rng.choice(["", "a", "ünï", "x" * 40])}
    if kind == "N":
        return {"N": str(rng.randint(-5, 500))}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "SS":
        return {"SS": sorted({rng.choice("abcdef") for _ in range(3)})}
    if kind == "NS":
        return {"NS": sorted({str(rng.randint(0, 9)) for _ in range(3)})}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(5))}
    if kind == "L":
        return {"L": [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]}
    return {"M": {f"k{i}": _value(rng, depth + 1) for i in range(rng.randint(0, 3))}}


def _item(rng: random.Random, pk: str, sk: str) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(rng.randint(0, 9))}}
    for i in range(rng.randint(0, 3)):
        item[f"a{i}"] = _value(rng)
    return item


def _call(out: list[Any], fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any] | None:
    try:
        answer = fn(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        reasons = exc.response.get("CancellationReasons")
        out.append(("error", error.get("Code"), error.get("Message"), reasons))
        return None
    answer.pop("ResponseMetadata", None)
    out.append(("ok", answer))
    return answer


def _scenario(seed: int) -> list[Any]:
    """Transactions (some cancelled part-way), queries of every shape, then the state."""
    rng = random.Random(seed)
    out: list[Any] = []
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        # moto answers the regional streams host only (localcloud.streams does the same)
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        ddb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        ddb.create_table(
            TableName="h",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        pks, sks = [f"P{i}" for i in range(8)], [f"{i:03d}#x" for i in range(12)]
        for _ in range(60):
            ddb.put_item(TableName="t", Item=_item(rng, rng.choice(pks), rng.choice(sks)))
        for pk in pks[:4]:
            ddb.put_item(TableName="h", Item={"pk": {"S": pk}, "v": _value(rng)})
        for _ in range(40):
            ops: list[dict[str, Any]] = []
            keys: set[tuple[str, str]] = set()
            for _ in range(rng.randint(1, 4)):
                pk, sk = rng.choice(pks), rng.choice(sks)
                if (pk, sk) in keys:
                    continue
                keys.add((pk, sk))
                key = {"pk": {"S": pk}, "sk": {"S": sk}}
                kind = rng.choice(["put", "put_new", "update", "delete", "check"])
                if kind == "put":
                    ops.append({"Put": {"TableName": "t", "Item": _item(rng, pk, sk)}})
                elif kind == "put_new":
                    ops.append(
                        {
                            "Put": {
                                "TableName": "t",
                                "Item": _item(rng, pk, sk),
                                "ConditionExpression": "attribute_not_exists(pk)",
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        }
                    )
                elif kind == "update":
                    ops.append(
                        {
                            "Update": {
                                "TableName": "t",
                                "Key": key,
                                "UpdateExpression": "ADD n :one SET tagged = :t",
                                "ConditionExpression": "attribute_not_exists(n) OR n < :lim",
                                "ExpressionAttributeValues": {
                                    ":one": {"N": "1"},
                                    ":t": {"BOOL": True},
                                    ":lim": {"N": "7"},
                                },
                            }
                        }
                    )
                elif kind == "delete":
                    ops.append({"Delete": {"TableName": "t", "Key": key}})
                else:
                    ops.append(
                        {
                            "ConditionCheck": {
                                "TableName": "t",
                                "Key": key,
                                "ConditionExpression": "attribute_exists(pk)",
                            }
                        }
                    )
            if rng.random() < 0.2:  # the same item twice: refused as a whole
                ops.append(
                    {
                        "Delete": {
                            "TableName": "t",
                            "Key": ops[0].get("Put", {}).get("Item")
                            and {
                                "pk": ops[0]["Put"]["Item"]["pk"],
                                "sk": ops[0]["Put"]["Item"]["sk"],
                            }
                            or next(iter(ops[0].values()))["Key"],
                        }
                    }
                )
            _call(out, ddb.transact_write_items, TransactItems=ops)
        for _ in range(40):
            pk = rng.choice(pks + ["absent"])
            shape = rng.choice(["all", "begins", "between", "gt"])
            names, values = {"#pk": "pk"}, {":pk": {"S": pk}}
            cond = "#pk = :pk"
            if shape == "begins":
                cond += " AND begins_with(sk, :p)"
                values[":p"] = {"S": rng.choice(["00", "01", "1"])}
            elif shape == "between":
                cond += " AND sk BETWEEN :a AND :b"
                values[":a"], values[":b"] = {"S": "002"}, {"S": "009"}
            elif shape == "gt":
                cond += " AND sk > :a"
                values[":a"] = {"S": "005"}
            kwargs: dict[str, Any] = {
                "TableName": "t",
                "KeyConditionExpression": cond,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": rng.random() < 0.5,
                "Limit": rng.choice([1, 3, 100]),
                "ConsistentRead": rng.random() < 0.5,
            }
            if rng.random() < 0.3:
                kwargs["FilterExpression"] = "n > :min"
                values[":min"] = {"N": "3"}
            if rng.random() < 0.2:
                kwargs["ProjectionExpression"] = "sk, n"
            while True:  # every page, as a paginating caller reads them
                answer = _call(out, ddb.query, **kwargs)
                if not answer or "LastEvaluatedKey" not in answer:
                    break
                kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        for pk in pks[:5]:
            _call(
                out,
                ddb.query,
                TableName="h",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
            )
        _call(
            out,
            ddb.query,
            TableName="t",
            KeyConditionExpression="sk = :s",
            ExpressionAttributeValues={":s": {"S": "001#x"}},
        )
        for table in ("t", "h"):
            items = ddb.scan(TableName=table)["Items"]
            out.append(sorted(items, key=lambda i: (i["pk"]["S"], i.get("sk", {}).get("S", ""))))
        arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        out.append(
            [
                (
                    r["eventName"],
                    r["dynamodb"]["SequenceNumber"],
                    r["dynamodb"].get("Keys"),
                    r["dynamodb"].get("OldImage"),
                    r["dynamodb"].get("NewImage"),
                )
                for r in records
            ]
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_transactions_queries_items_and_streams_are_moto_s_own(seed: int) -> None:
    bridged = _scenario(seed)
    with moto_as_shipped():
        shipped = _scenario(seed)
    # the scenario did what it is for: transactions that were cancelled and that passed
    outcomes = [entry[1] for entry in bridged if isinstance(entry, tuple) and entry[0] == "error"]
    assert "TransactionCanceledException" in outcomes
    assert any(isinstance(e, tuple) and e[0] == "ok" and "Items" in e[1] for e in bridged)
    assert len(bridged) == len(shipped)
    for number, (ours, theirs) in enumerate(zip(bridged, shipped, strict=True)):
        assert ours == theirs, f"step {number} differs"
