"""The event source mappings read moto's stream shard in process (localcloud.stream_reads):
the records must be those botocore parses from moto's GetRecords answer, field by field,
from every position and for every batch size; records it cannot give that way (a binary
attribute, a bridge turned off, another shard) are left to botocore."""

from __future__ import annotations

import random
from typing import Any

import pytest
from moto import mock_aws

from localcloud import dynamo_bridge, stream_reads
from tests.integration.test_local_cloud_speed import _clients, _value
from tests.moto_tables import key_tables

pytestmark = pytest.mark.integration


def _text_value(rng: random.Random) -> dict[str, Any]:
    while True:
        value = _value(rng)
        if not stream_reads._has_binary(value):
            return value


def _over_botocore(streams: Any, arn: str, shard: str, after: str | None, limit: int) -> Any:
    position: dict[str, Any] = (
        {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        if after
        else {"ShardIteratorType": "TRIM_HORIZON"}
    )
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **position)
    return streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=limit)["Records"]


@pytest.mark.parametrize("view", ["NEW_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"])
def test_records_read_in_process_are_those_botocore_parses(view: str) -> None:
    rng = random.Random(view)
    with mock_aws():
        ddb, streams = _clients()
        key_tables(ddb, "acts", StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
        for i in range(30):
            key = {"pk": {"S": f"actor-{i % 4}"}, "sk": {"S": f"M#{i % 9}"}}
            if i % 7 == 6:
                ddb.delete_item(TableName="acts", Key=key)
            else:
                item = {**key, "doc": {"S": f'{{"n": {i}}}'}, "v": _text_value(rng)}
                ddb.put_item(TableName="acts", Item=item)
        arn = ddb.describe_table(TableName="acts")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        shard_id = shard["ShardId"]
        everything = _over_botocore(streams, arn, shard_id, None, 1000)
        assert len(everything) > 20
        sequences = [None] + [r["dynamodb"]["SequenceNumber"] for r in everything]
        for after in sequences:
            for limit in (1, 7, 100):
                direct = stream_reads.read(arn, shard_id, after, limit)
                assert direct == _over_botocore(streams, arn, shard_id, after, limit)
        first = stream_reads.read(arn, shard_id, None, 1)
        assert first is not None and first[0]["dynamodb"]["ApproximateCreationDateTime"].tzinfo

        # what botocore decodes (binary) is left to it, as are other shards and the bridge off
        ddb.put_item(TableName="acts", Item={"pk": {"S": "b"}, "sk": {"S": "b"}, "x": {"B": b"1"}})
        last = sequences[-1]
        if view != "KEYS_ONLY":
            assert stream_reads.read(arn, shard_id, last, 10) is None
        assert stream_reads.read(arn, "shardId-other", None, 10) is None
        bridged = dynamo_bridge.set_enabled(False)
        try:
            assert stream_reads.read(arn, shard_id, None, 10) is None
        finally:
            dynamo_bridge.set_enabled(bridged)
