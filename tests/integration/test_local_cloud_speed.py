"""The local cloud's speed bridges (infra/localcloud/moto_speed.py, dynamo_bridge.py) answer
as moto does.

Each scenario runs twice on fresh moto state: once with the bridges (DynamoDB's data calls
answered in process by dynamo_bridge), once with moto's own code and every call over HTTP
(`moto_as_shipped()`), through a real boto3 client. Everything a caller can see must be
equal: every answer or error (its code, message and modeled fields: the cancellation reasons
of a transaction, the item of a failed condition), the pages of every query and scan, the
stored items, and the stream records in order."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto_tables import key_tables

from localcloud import dynamo_bridge
from localcloud.moto_speed import install_speedups, moto_as_shipped
from localcloud.partiql_bridge import install_partiql_inserts

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
        modeled = {k: v for k, v in exc.response.items() if k not in ("Error", "ResponseMetadata")}
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        kind = type(exc).__name__
        out.append(
            ("error", error.get("Code"), error.get("Message"), reasons, modeled, status, kind)
        )
        return None
    except (ValueError, KeyError) as exc:  # moto refusing an expression outright: raised as is
        out.append(("raised", type(exc).__name__, str(exc)))
        return None
    meta = answer.pop("ResponseMetadata", None)
    assert meta and meta["HTTPStatusCode"] == 200 and meta["RequestId"]
    out.append(("ok", answer))
    return answer


def _clients() -> tuple[Any, Any]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    dynamo_bridge.install(ddb.meta.events)  # as the local cloud's session has it
    # moto answers the regional streams host only (localcloud.streams does the same)
    streams = boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
    )
    dynamo_bridge.install(streams.meta.events)
    return ddb, streams


def _stream(ddb: Any, streams: Any, table: str) -> list[Any]:
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return [
        (
            r["eventName"],
            r["dynamodb"]["SequenceNumber"],
            r["dynamodb"].get("Keys"),
            r["dynamodb"].get("OldImage"),
            r["dynamodb"].get("NewImage"),
        )
        for r in records
    ]


def _scenario(seed: int) -> list[Any]:
    """Transactions (some cancelled part-way), queries of every shape, then the state."""
    rng = random.Random(seed)
    out: list[Any] = []
    with mock_aws():
        ddb, streams = _clients()
        streams_on = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        key_tables(ddb, "t", StreamSpecification=streams_on)
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
        out.append(_stream(ddb, streams, "t"))
    return out


def _compare(scenario: Callable[[int], list[Any]], seed: int) -> list[Any]:
    """The scenario bridged and as shipped: equal step by step; the bridged run's answers."""
    before = dynamo_bridge.counts["answered"]
    bridged = scenario(seed)
    assert dynamo_bridge.counts["answered"] - before > 50  # the bridge did answer them
    with moto_as_shipped():
        before = dynamo_bridge.counts["answered"]
        shipped = scenario(seed)
        assert dynamo_bridge.counts["answered"] == before  # all over HTTP
    assert len(bridged) == len(shipped)
    for number, (ours, theirs) in enumerate(zip(bridged, shipped, strict=True)):
        assert ours == theirs, f"step {number} differs"
    return bridged


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_transactions_queries_items_and_streams_are_moto_s_own(seed: int) -> None:
    bridged = _compare(_scenario, seed)
    # the scenario did what it is for: transactions that were cancelled and that passed
    outcomes = [entry[1] for entry in bridged if isinstance(entry, tuple) and entry[0] == "error"]
    assert "TransactionCanceledException" in outcomes
    assert any(isinstance(e, tuple) and e[0] == "ok" and "Items" in e[1] for e in bridged)


def _item_scenario(seed: int) -> list[Any]:
    """Every data operation the bridge answers, on items with binary values, and the ways
    each fails: conditions (with the old item), validation errors, unknown tables."""
    rng = random.Random(seed)
    out: list[Any] = []
    install_partiql_inserts()
    with mock_aws():
        ddb, streams = _clients()
        ddb.create_table(
            TableName="b",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "B"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        pks, sks = [f"P{i}" for i in range(4)], [bytes([i, 255 - i]) for i in range(6)]

        def key() -> dict[str, Any]:
            return {"pk": {"S": rng.choice(pks)}, "sk": {"B": rng.choice(sks)}}

        def item() -> dict[str, Any]:
            body = {**key(), "n": {"N": str(rng.randint(0, 9))}, "bs": {"BS": [b"x", b"\x00y"]}}
            if rng.random() < 0.5:
                body["g"] = {"S": rng.choice(["red", "blue"])}
            for i in range(rng.randint(0, 2)):
                body[f"a{i}"] = _value(rng)
            return body

        for _ in range(30):
            _call(out, ddb.put_item, TableName="b", Item=item())
        for _ in range(120):
            op = rng.choice(
                ["get", "put", "put_new", "update", "delete", "batch_get", "batch_write",
                 "transact_get", "scan", "query_index", "invalid", "no_table", "insert"]
            )  # fmt: skip
            if op == "get":
                extra: dict[str, Any] = {}
                if rng.random() < 0.4:
                    extra = {
                        "ProjectionExpression": "#n, bs",
                        "ExpressionAttributeNames": {"#n": "n"},
                    }
                _call(out, ddb.get_item, TableName="b", Key=key(), ConsistentRead=True, **extra)
            elif op == "put":
                _call(out, ddb.put_item, TableName="b", Item=item(), ReturnValues="ALL_OLD",
                      ReturnConsumedCapacity=rng.choice(["NONE", "TOTAL", "INDEXES"]))  # fmt: skip
            elif op == "put_new":
                _call(out, ddb.put_item, TableName="b", Item=item(),
                      ConditionExpression="attribute_not_exists(pk)",
                      ReturnValuesOnConditionCheckFailure=rng.choice(["ALL_OLD", "NONE"]))  # fmt: skip
            elif op == "update":
                _call(out, ddb.update_item, TableName="b", Key=key(),
                      UpdateExpression="ADD n :one, tags :t SET seen = :b REMOVE a0",
                      ConditionExpression="attribute_not_exists(n) OR n < :lim",
                      ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"SS": ["a", "b"]},
                                                 ":b": {"B": b"\x01"}, ":lim": {"N": "8"}},
                      ReturnValues=rng.choice(["NONE", "ALL_NEW", "UPDATED_OLD", "ALL_OLD"]),
                      ReturnValuesOnConditionCheckFailure="ALL_OLD")  # fmt: skip
            elif op == "delete":
                _call(out, ddb.delete_item, TableName="b", Key=key(), ReturnValues="ALL_OLD",
                      ConditionExpression="n <> :z", ExpressionAttributeValues={":z": {"N": "0"}},
                      ReturnValuesOnConditionCheckFailure="ALL_OLD")  # fmt: skip
            elif op == "batch_get":
                keys = {
                    tuple(sorted((k, repr(v)) for k, v in key().items())): key() for _ in range(3)
                }
                _call(out, ddb.batch_get_item, RequestItems={"b": {"Keys": list(keys.values())}})
            elif op == "batch_write":
                writes = [
                    {"PutRequest": {"Item": {**item(), "pk": {"S": f"W{i}"}}}} for i in range(2)
                ]
                writes.append({"DeleteRequest": {"Key": key()}})
                _call(out, ddb.batch_write_item, RequestItems={"b": writes})
            elif op == "insert":  # PartiQL INSERTs (localcloud.partiql_bridge): new or duplicate
                table = rng.choice(["b", "b", "absent"])
                keys = {repr(k): k for k in (key() for _ in range(2))}  # distinct in one call
                statements = [
                    {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': ?, 'sk': ?, 'n': ?}}",
                     "Parameters": [*k.values(), {"N": str(rng.randint(0, 9))}]}
                    for k in keys.values()
                ]  # fmt: skip
                _call(out, ddb.batch_execute_statement, Statements=statements)
            elif op == "transact_get":
                _call(out, ddb.transact_get_items,
                      TransactItems=[{"Get": {"TableName": "b", "Key": key()}} for _ in range(2)])  # fmt: skip
            elif op == "scan":
                kwargs: dict[str, Any] = {"TableName": "b", "Limit": rng.choice([2, 5, 50])}
                if rng.random() < 0.5:
                    kwargs["FilterExpression"] = "n > :m"
                    kwargs["ExpressionAttributeValues"] = {":m": {"N": "4"}}
                if rng.random() < 0.3:
                    kwargs["Select"] = "COUNT"
                while True:
                    answer = _call(out, ddb.scan, **kwargs)
                    if not answer or "LastEvaluatedKey" not in answer:
                        break
                    kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
            elif op == "query_index":
                _call(out, ddb.query, TableName="b", IndexName="by-g",
                      KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": rng.choice(["red", "blue"])}})  # fmt: skip
            elif op == "invalid":
                bad = rng.choice(
                    [
                        {"Key": {"pk": {"S": ""}, "sk": {"B": b"\x00"}}},
                        {"Key": {"pk": {"S": "P1"}}},
                        {"Key": key(), "ExpressionAttributeNames": {"#x": "n"}},
                        {"Key": key(), "ProjectionExpression": "n", "AttributesToGet": ["n"]},
                    ]
                )
                _call(out, ddb.get_item, TableName="b", **bad)
                big = {**item(), "z": {"S": "x" * rng.choice([404_900, 405_100])}}
                _call(out, ddb.put_item, TableName="b", Item=big)  # 400 KB: near and over
                condition = rng.choice(  # the same texts again and again (lexed once)
                    ["attribute_not_exists(pk) AND", "n = = :n", "size(a0) > :n", "n IN (:n, :m)",
                     "NOT (n BETWEEN :n AND :n) OR begins_with(#p, :n)", "n <> :n AND attribute_exists(a9)"]
                )  # fmt: skip
                names = {"#p": "pk"} if "#p" in condition else {}
                _call(out, ddb.put_item, TableName="b", Item=item(), ConditionExpression=condition,
                      ExpressionAttributeValues={":n": {"N": "3"}}, **({"ExpressionAttributeNames": names}
                      if names else {}))  # fmt: skip
                _call(out, ddb.update_item, TableName="b", Key=key(), UpdateExpression="SET n = :v")
            else:
                _call(out, ddb.get_item, TableName="absent", Key=key())
                _call(out, ddb.put_item, TableName="absent", Item=item())
        out.append(sorted(ddb.scan(TableName="b")["Items"], key=repr))
        out.append(_stream(ddb, streams, "b"))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_every_bridged_operation_answers_and_fails_as_moto_over_http(seed: int) -> None:
    bridged = _compare(_item_scenario, seed)
    errors = {entry[1] for entry in bridged if isinstance(entry, tuple) and entry[0] == "error"}
    assert {"ConditionalCheckFailedException", "ValidationException"} <= errors
    sizes = [e[2] for e in bridged if isinstance(e, tuple) and e[0] == "error" and "size" in e[2]]
    assert sizes  # an item over 400 KB refused
    assert "ResourceNotFoundException" in errors
    failed = [e for e in bridged if isinstance(e, tuple) and e[0] == "error" and e[4].get("Item")]
    assert failed  # a failed condition's old item, binary values as bytes
    assert any(isinstance(v.get("B"), bytes) for v in failed[0][4]["Item"].values())
    statements = [
        answer["Error"]["Code"] if "Error" in answer else "inserted"
        for e in bridged
        if isinstance(e, tuple) and e[0] == "ok" and "Responses" in e[1]
        for answer in e[1]["Responses"]
        if isinstance(answer, dict) and ("Error" in answer or "TableName" in answer)
    ]
    assert {"inserted", "DuplicateItem", "ResourceNotFound"} <= set(statements)


def test_stream_reads_bridged_are_the_records_moto_serves_over_http() -> None:
    """The same stored stream records read both ways in one moto: every field of every
    record (times, ids, binary keys and images), the shard and the iterators' paging."""
    rng = random.Random(5)
    with mock_aws():
        ddb, streams = _clients()
        ddb.create_table(
            TableName="sss",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for i in range(25):
            key = {"pk": {"B": bytes([i % 7, 200])}}
            if i % 5 == 4:
                ddb.delete_item(TableName="sss", Key=key)
            else:
                ddb.put_item(TableName="sss", Item={**key, "v": _value(rng), "n": {"N": str(i)}})
        arn = ddb.describe_table(TableName="sss")["Table"]["LatestStreamArn"]

        def read() -> list[Any]:
            out: list[Any] = []
            described = streams.describe_stream(StreamArn=arn)["StreamDescription"]
            shard = described["Shards"][0]
            out.append({k: v for k, v in described.items() if k != "Shards"})
            out.append(streams.list_streams(TableName="sss")["Streams"])
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for _ in range(5):  # pages of 7, then an empty read
                page = streams.get_records(ShardIterator=iterator, Limit=7)
                assert page.pop("ResponseMetadata")["HTTPStatusCode"] == 200
                iterator = page.pop("NextShardIterator")
                out.append(page)
            return out

        before = dynamo_bridge.counts["answered"]
        bridged = read()
        assert dynamo_bridge.counts["answered"] - before == 2 + 5 + 1
        over_http = dynamo_bridge.set_enabled(False)
        try:
            shipped = read()
        finally:
            dynamo_bridge.set_enabled(over_http)
    # 25 writes, but the first delete found nothing to delete: no record
    assert sum(len(page["Records"]) for page in bridged[2:]) == 24
    record = bridged[2]["Records"][0]
    assert record["dynamodb"]["ApproximateCreationDateTime"].tzinfo is not None
    assert isinstance(record["dynamodb"]["Keys"]["pk"]["B"], bytes)
    assert bridged == shipped


def test_a_remembered_endpoint_is_the_one_botocore_resolves() -> None:
    """endpoint_memo: per table (a name or an ARN, whose account picks an account endpoint),
    per batch of tables, the endpoint botocore's rules give, the first time and after."""
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
    with mock_aws():
        ddb, _ = _clients()
        calls: list[tuple[str, dict[str, Any]]] = []
        for table in ("t", "u", arn):
            key = {"pk": {"S": "a"}}
            calls += [
                ("GetItem", {"TableName": table, "Key": key}),
                ("Query", {"TableName": table, "KeyConditionExpression": "pk = :a"}),
                ("BatchGetItem", {"RequestItems": {table: {"Keys": [key]}, "v": {"Keys": [key]}}}),
                (
                    "TransactWriteItems",
                    {"TransactItems": [{"Put": {"TableName": table, "Item": key}}]},
                ),
            ]
        resolved = []
        for _ in range(2):  # remembered, then read back
            for operation, params in calls:
                model = ddb.meta.service_model.operation_model(operation)
                resolved.append(ddb._resolve_endpoint_ruleset(model, params, {}))
        as_shipped = dynamo_bridge.set_enabled(False)
        try:
            shipped = [
                ddb._resolve_endpoint_ruleset(
                    ddb.meta.service_model.operation_model(operation), params, {}
                )
                for operation, params in calls
            ]
        finally:
            dynamo_bridge.set_enabled(as_shipped)
        remembered = ddb._ruleset_resolver.__dict__.get("_nurture_endpoints", {})
    assert len(remembered) == len(calls)  # one per operation and table(s)
    assert resolved == shipped * 2
    assert any("123456789012" in url for url, _, _ in shipped)  # the ARN's account endpoint
